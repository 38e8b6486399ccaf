// The page around the Python lesson (its own file: the demo's CSP allows no inline script).
demo.requireUser().then((email) => demo.header("catalogue", email));
