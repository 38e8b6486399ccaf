// The sign-in page (its own file: the demo's CSP allows no inline script).
(async () => {
  demo.header(null, null);
  const params = new URLSearchParams(location.search);
  const next = params.get("next") || "index.html";
  // Only paths inside the demo, never another site.
  const target = /^[a-z0-9][a-z0-9./_-]*(\?[^#]*)?$/i.test(next) && !next.includes("..")
    ? demo.url(next)
    : demo.url("index.html");
  const input = document.getElementById("email");
  input.focus();
  const error = document.querySelector("[data-error]");
  document.querySelector("[data-signin]").addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const value = input.value.trim();
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value)) {
      error.textContent = "Enter an email address, e.g. student@example.com.";
      error.hidden = false;
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    try {
      await demo.api("auth/login", { json: { email: value } });
      location.href = target;
    } catch (failure) {
      error.textContent = `Could not sign in: ${failure.message}`;
      error.hidden = false;
    }
  });
  // After the form works: the static demo's in-page server may still be loading.
  const email = await demo.currentUser().catch(() => null);
  if (email && !input.value) input.value = email;
})();
