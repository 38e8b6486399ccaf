"""The delivery queue, sans-I/O: which request goes out next, and what each answer means.

Fed stored windows, one-off requests (a completion), replies and ticks (epoch ms), it answers
with effects: ``Store`` a window, ``Send`` a body, ``Wait`` until a time, ``Acknowledge`` or
``Forget`` a window, ``ReportError`` (``onError``), ``Settled`` (an attempt is over) and
``RememberLastingDedupe``. It never sleeps, posts or touches storage; ``outbox.py`` does, and
feeds the outcome back. The rules (time-model.md, protocol.md and the identity contract):

- W6: one request in flight; windows go oldest first, a request after what was queued before.
- R1: a failure that may pass (no answer, 408, 429, 5xx) is tried again ``attempts`` times
  after the policy's delays; a ``Retry-After`` of a 429 is a floor for the next attempt.
- P3: a window is stored before it is sent and kept until a 2xx. A final 4xx drops it. When
  the retries run out, it and every later window wait for the next trigger (a new window, the
  next page load), and everyone waiting is told the attempt is over.
- onError once per window, however many attempts and whatever the statuses.
- 401: kept, and no window is sent until the user signs in again or the page reloads.
- 403 ``RUN_OWNED_BY_ANOTHER_USER``: kept (it belongs to someone else), not tried again in
  this page; the other windows go on.
- Identity: a window carries the tag (``X-Tracker-Subject``) of the last answer before it was
  made. A tagged window is sent only once this page learned the current tag and they match;
  one of another owner waits, and expires after 7 days.
- Untagged windows (made before this page's first answer; the embed's boot window): those of
  this page take the first tag the page learns, then follow the rule above. One left by
  another page (an earlier load, another tab) goes with ``X-Tracker-Replay: untagged``: the
  server stores it only into a run that exists and is the caller's, and a 403
  ``UNVERIFIED_REPLAY`` or ``RUN_OWNED_BY_ANOTHER_USER`` drops it (a warning, no onError).
- Dedupe horizon: unless the server said ``X-Tracker-Dedupe: lasting``, a window that may
  have reached the server already (sent before, or left by an earlier page load) is not sent
  again once its ``endedAt`` is older than 5 minutes: the official server would count it twice.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any, Final

from .errors import DeliveryError
from .ports import Reply
from .retry import RetryPolicy
from .timefmt import epoch_ms_from_iso

KEY_PREFIX: Final = "timeback.window."
SUBJECT_HEADER: Final = "x-tracker-subject"
DEDUPE_HEADER: Final = "x-tracker-dedupe"
RETRY_AFTER_HEADER: Final = "retry-after"
RUN_OWNED_BY_ANOTHER_USER: Final = "RUN_OWNED_BY_ANOTHER_USER"
UNVERIFIED_REPLAY: Final = "UNVERIFIED_REPLAY"
DEDUPE_HORIZON_MS: Final = 5 * 60_000
OWNER_WAIT_MS: Final = 7 * 24 * 3_600_000


def window_key(started_at_iso: str, run_id: str) -> str:
    """Storage key of a window: its identity, and ISO times sort in time order."""
    return f"{KEY_PREFIX}{started_at_iso}.{run_id}"


@dataclass(frozen=True, slots=True)
class StoredWindow:
    """A window as it is kept in storage until acknowledged (P3)."""

    key: str
    url: str
    body: str
    ended_at: int  # epoch ms, for the dedupe horizon and the owner's 7 days
    subject: str | None = None  # the identity tag it was made under
    page: int | None = None  # the page load that made it (its timeOrigin, whole ms)

    def record(self) -> str:
        data: dict[str, object] = {"url": self.url, "body": self.body, "subject": self.subject}
        if self.page is not None:
            data["page"] = self.page
        return json.dumps(data, separators=(",", ":"))


def parse_record(key: str, text: str) -> StoredWindow | None:
    """A stored record, or ``None`` when it is unreadable. Records without a tag (the boot
    window, older releases) are untagged; ``endedAt`` is read from the body."""
    try:
        data = json.loads(text)
        url, body, subject = data["url"], data["body"], data.get("subject")
        page = data.get("page")
        ended_at = epoch_ms_from_iso(json.loads(body)["endedAt"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if not isinstance(page, int) or isinstance(page, bool):
        page = None  # of no known page: an earlier one
    if isinstance(url, str) and isinstance(body, str) and isinstance(subject, str | None):
        return StoredWindow(key, url, body, ended_at, subject, page)
    return None


def delivery_error(reply: Reply) -> DeliveryError:
    """A readable error for a failed reply, with the server's error code when it sent one."""
    if reply.status is None:
        return DeliveryError(f"no answer from the server ({reply.body or 'network error'})")
    code = message = None
    try:
        payload: Any = json.loads(reply.body) if reply.body else None
        if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
            code = payload["error"].get("code")
            message = payload["error"].get("message")
    except ValueError:
        pass
    text = (
        f"HTTP {reply.status}" + (f" {code}" if code else "") + (f": {message}" if message else "")
    )
    return DeliveryError(text, status=reply.status, code=code if isinstance(code, str) else None)


def retry_after_ms(reply: Reply) -> int:
    """``Retry-After`` in whole seconds (the form our server sends); anything else is 0."""
    value = reply.headers.get(RETRY_AFTER_HEADER, "")
    try:
        seconds = float(value)
    except ValueError:
        return 0
    return math.ceil(seconds * 1000) if math.isfinite(seconds) and seconds > 0 else 0


# -- effects ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Store:
    """Write this window to durable storage before anything else happens to it."""

    window: StoredWindow


@dataclass(frozen=True, slots=True)
class Send:
    """POST ``body`` to ``url`` and feed the answer to ``reply(key, ...)``. ``stored``: check
    that the window is still stored first (another tab may have delivered it). ``replay``:
    an untagged window of another page, sent with ``X-Tracker-Replay: untagged``."""

    key: str
    url: str
    body: str
    stored: bool
    replay: bool = False


@dataclass(frozen=True, slots=True)
class Wait:
    """Nothing is due before ``until`` (epoch ms): call ``tick()`` then."""

    until: int


@dataclass(frozen=True, slots=True)
class Acknowledge:
    """Delivered (2xx): remove it from storage, call ``onFlush``, settle as delivered."""

    key: str


@dataclass(frozen=True, slots=True)
class Forget:
    """Dropped for good: remove it from storage and say why; settle as not delivered."""

    key: str
    reason: str


@dataclass(frozen=True, slots=True)
class ReportError:
    """Call this window's ``onError`` (at most once per window)."""

    key: str
    error: DeliveryError


@dataclass(frozen=True, slots=True)
class Settled:
    """The attempt is over but the item is kept (or it was a request); ``error`` is why."""

    key: str
    delivered: bool
    error: DeliveryError | None = None


@dataclass(frozen=True, slots=True)
class RememberLastingDedupe:
    """The server dedupes for ever: remember it for this API base (later page loads)."""


# The 403s that end a replay: the run is unknown, or it is someone else's.
REPLAY_REFUSALS: Final = frozenset({UNVERIFIED_REPLAY, RUN_OWNED_BY_ANOTHER_USER})

Effect = Store | Send | Wait | Acknowledge | Forget | ReportError | Settled | RememberLastingDedupe


class Hold(Enum):
    NONE = "none"
    UNTIL_TRIGGER = "until a new window or page load"  # P3: retries ran out
    THIS_PAGE = "until the next page load"  # 403: owned by another user


@dataclass(slots=True)
class _Item:
    key: str
    url: str
    body: str
    window: StoredWindow | None  # None for a one-off request
    policy: RetryPolicy | None  # None: nobody in this page waits (R1 falls back)
    waiting: bool  # someone in this page waits: onError, onFlush
    maybe_delivered: bool  # sent before, or left by an earlier page load (beacon)
    this_page: bool = True  # made by this page load (else: an earlier load, another tab)
    reported: bool = False
    hold: Hold = Hold.NONE
    retries: int = 0
    not_before: int = 0

    @property
    def replay(self) -> bool:
        """Another page's untagged window: sent with ``X-Tracker-Replay: untagged``. Only
        this page's windows are ever re-tagged, so this holds from its send to its reply."""
        return self.window is not None and self.window.subject is None and not self.this_page


class DeliveryQueue:
    """All of delivery's decisions for one page. Times are epoch ms."""

    def __init__(self, *, lasting_dedupe: bool = False, page: int | None = None) -> None:
        self._page = page  # this page load's id (timeOrigin): its untagged windows are its own
        self._order: list[_Item] = []
        self._in_flight: str | None = None
        self._waiting_until: int | None = None
        self._subject: str | None = None
        self._subject_known = False
        self._signed_out: DeliveryError | None = None  # a 401: windows wait for a sign-in
        self._lasting_dedupe = lasting_dedupe

    # -- reading ---------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """A request is in flight or a retry is due: the queue is not idle."""
        return self._in_flight is not None or self._waiting_until is not None

    @property
    def keys(self) -> list[str]:
        return [item.key for item in self._order]

    @property
    def subject(self) -> str | None:
        """The identity tag new windows are made under (``None`` until an answer said one)."""
        return self._subject if self._subject_known else None

    # -- inputs ----------------------------------------------------------------------------

    def add_window(
        self, key: str, url: str, body: str, *, ended_at: int, policy: RetryPolicy, now: int
    ) -> list[Effect]:
        """A window of this page, someone waits for it: store it, then deliver in order."""
        window = StoredWindow(key, url, body, ended_at, self.subject, self._page)
        self._insert(_Item(key, url, body, window, policy, waiting=True, maybe_delivered=False))
        self._release(Hold.UNTIL_TRIGGER)  # P3: a new window sends the kept ones first
        if self._signed_out is not None:
            # Kept for the sign-in; whoever waits hears now that it was not delivered.
            return [Store(window), Settled(key, False, self._signed_out)]
        return [Store(window), *self._pump(now)]

    def add_beaconed(self, key: str, url: str, body: str, *, ended_at: int) -> list[Effect]:
        """P1: a window handed to ``sendBeacon``; its fate is unknown, so it is kept and sent
        again at the next trigger (P3). Nothing is sent now: the page is going away."""
        window = StoredWindow(key, url, body, ended_at, self.subject, self._page)
        self._remove(key)
        self._insert(_Item(key, url, body, window, None, waiting=False, maybe_delivered=True))
        return [Store(window)]

    def load(self, stored: list[StoredWindow], now: int) -> list[Effect]:
        """What storage holds now. New keys are windows of earlier page loads (or other tabs);
        a key that vanished was delivered by another tab of this origin."""
        effects: list[Effect] = []
        present = {window.key for window in stored}
        for item in list(self._order):
            if item.window is not None and item.key not in present and item.key != self._in_flight:
                self._order.remove(item)
                if item.waiting:
                    effects.append(Settled(item.key, delivered=True))
        known = set(self.keys)
        for window in sorted(stored, key=lambda w: w.key):
            if window.key not in known:
                own = self._of_this_page(window)
                if own and window.subject is None and self.subject is not None:
                    window = self._tagged(window, self.subject)
                    effects.append(Store(window))
                item = _Item(
                    window.key,
                    window.url,
                    window.body,
                    window,
                    None,
                    waiting=False,
                    maybe_delivered=True,
                    this_page=own,
                )
                self._insert(item)
        self._release(Hold.UNTIL_TRIGGER)
        return effects + self._pump(now)

    def add_request(
        self, key: str, url: str, body: str, *, policy: RetryPolicy, now: int
    ) -> list[Effect]:
        """A one-off request (a completion), after everything queued before it (W6)."""
        self._order.append(_Item(key, url, body, None, policy, waiting=True, maybe_delivered=False))
        return self._pump(now)

    def vanished(self, key: str, now: int) -> list[Effect]:
        """The window of a ``Send`` was no longer stored: another tab delivered it."""
        self._in_flight = None
        item = self._remove(key)
        effects: list[Effect] = [Settled(key, True)] if item and item.waiting else []
        return effects + self._pump(now)

    def subject_seen(self, subject: str | None, now: int) -> list[Effect]:
        """An answer named the signed-in user (``None``: nobody). A new user after a 401
        is the sign-in that 401 waited for."""
        return self._learn(subject) + self._pump(now)

    def _learn(self, subject: str | None, *, retag: bool = True) -> list[Effect]:
        """Takes the tag of an answer; this page's untagged windows are re-tagged with it
        (stored again, so a later page sees whose they are)."""
        new_user = subject is not None and (not self._subject_known or subject != self._subject)
        if new_user and self._signed_out is not None:
            self._signed_out = None
            self._release(Hold.UNTIL_TRIGGER)  # the sign-in is the trigger
        self._subject, self._subject_known = subject, True
        if subject is None or not retag:
            return []
        effects: list[Effect] = []
        for item in self._order:
            if item.window is not None and item.this_page and item.window.subject is None:
                item.window = self._tagged(item.window, subject)
                effects.append(Store(item.window))
        return effects

    def tick(self, now: int) -> list[Effect]:
        return self._pump(now)

    def reply(self, key: str, reply: Reply, now: int) -> list[Effect]:
        """The answer to the ``Send`` of ``key``."""
        if key != self._in_flight:
            raise ValueError(f"reply for {key!r}, but {self._in_flight!r} is in flight")
        self._in_flight = None
        item = self._find(key)
        assert item is not None  # in flight items are never removed
        effects: list[Effect] = []
        if reply.ok:
            self._order.remove(item)  # delivered: not re-tagged below
        if reply.status is not None:
            # A 401 refused the caller: its tag names nobody this page may send for.
            effects += self._learn(reply.headers.get(SUBJECT_HEADER), retag=reply.status != 401)
        if reply.headers.get(DEDUPE_HEADER) == "lasting" and not self._lasting_dedupe:
            self._lasting_dedupe = True
            effects.append(RememberLastingDedupe())
        if reply.ok:
            effects.append(Acknowledge(key) if item.window else Settled(key, True))
            return effects + self._pump(now)
        item.maybe_delivered = True
        error = delivery_error(reply)
        if reply.status == 401:
            # The user's session ended: every window waits for a sign-in (or reload); the
            # one refused reports it, the ones behind it only settle.
            self._signed_out = error
            effects += self._stall(item, error, report=False)
        elif reply.status == 403 and item.replay and error.code in REPLAY_REFUSALS:
            # Unprovable as the caller's: dropped, or it would be tried on every page load.
            self._order.remove(item)
            effects.append(Forget(key, f"a replay of an untagged window was refused: {error}"))
        elif reply.status == 403 and error.code == RUN_OWNED_BY_ANOTHER_USER:
            effects += self._give_up(item, error, Hold.THIS_PAGE)
        elif error.retryable:
            item.not_before = max(item.not_before, now + retry_after_ms(reply))
            policy = self._policy_for(item)
            if item.retries < policy.attempts:
                item.not_before = max(item.not_before, now + policy.delay(item.retries))
                item.retries += 1
            else:
                item.retries = 0
                effects += self._stall(item, error)
        else:
            # P3: rejected for good (a 4xx other than 401/403-owned/408/429).
            self._order.remove(item)
            effects += self._report(item, error)
            if item.window:
                effects.append(Forget(key, f"rejected: {error}"))
            else:
                effects.append(Settled(key, False, error))
        return effects + self._pump(now)

    # -- internals -------------------------------------------------------------------------

    def _find(self, key: str) -> _Item | None:
        return next((item for item in self._order if item.key == key), None)

    def _remove(self, key: str) -> _Item | None:
        item = self._find(key)
        if item is not None:
            self._order.remove(item)
        return item

    def _insert(self, item: _Item) -> None:
        """Windows in key order (ISO start times sort in time order); requests stay put."""
        for index, other in enumerate(self._order):
            if other.window is not None and other.key > item.key:
                self._order.insert(index, item)
                return
        self._order.append(item)

    def _release(self, hold: Hold) -> None:
        for item in self._order:
            if item.hold is hold:
                item.hold = Hold.NONE

    def _policy_for(self, item: _Item) -> RetryPolicy:
        """R1 for a window nobody here waits for (kept from an earlier failure or page load):
        the retries of whoever waits behind it, since its failure holds up their windows."""
        if item.policy is not None:
            return item.policy
        behind = (other.policy for other in self._order if other.policy is not None)
        return next(behind, RetryPolicy())

    def _report(self, item: _Item, error: DeliveryError) -> list[Effect]:
        """onError once per window, whatever happens to it later."""
        if not item.waiting or item.reported or item.window is None:
            return []
        item.reported = True
        return [ReportError(item.key, error)]

    def _give_up(
        self, item: _Item, error: DeliveryError, hold: Hold, *, report: bool = True
    ) -> list[Effect]:
        """Kept, not tried again for now; a request fails."""
        if item.window is None:
            self._order.remove(item)
            return [Settled(item.key, False, error)]
        item.hold = hold
        effects = self._report(item, error) if report else []
        return [*effects, Settled(item.key, False, error)] if item.waiting else effects

    def _stall(self, item: _Item, error: DeliveryError, *, report: bool = True) -> list[Effect]:
        """P3: the server cannot take windows now. This and every later window stay stored
        for the next trigger; everyone waiting for them hears the attempt is over."""
        if item.window is None:
            return self._give_up(item, error, Hold.UNTIL_TRIGGER)
        effects: list[Effect] = []
        start = self._order.index(item)
        for other in self._order[start:]:
            if other.window is not None and other.hold is Hold.NONE:
                tell = report or other is item
                effects += self._give_up(other, error, Hold.UNTIL_TRIGGER, report=tell)
        return effects

    def _of_this_page(self, window: StoredWindow) -> bool:
        """A stored window this page made (the embed's boot window, before Python ran)."""
        return self._page is not None and window.page == self._page

    @staticmethod
    def _tagged(window: StoredWindow, subject: str) -> StoredWindow:
        return replace(window, subject=subject)

    def _sendable_owner(self, window: StoredWindow) -> bool:
        # Untagged: this page's goes as its own, another page's as a replay.
        return window.subject is None or (self._subject_known and window.subject == self._subject)

    def _pump(self, now: int) -> list[Effect]:
        """Start the next send if none is in flight, or say when one is due."""
        effects: list[Effect] = []
        if self._in_flight is not None:
            return effects
        self._waiting_until = None
        for item in list(self._order):
            window = item.window
            if window is not None:
                if item.hold is not Hold.NONE or self._signed_out is not None:
                    continue
                if not self._sendable_owner(window):
                    if now - window.ended_at > OWNER_WAIT_MS:
                        self._order.remove(item)
                        effects.append(Forget(item.key, "its owner did not come back in 7 days"))
                    continue
            if item.not_before > now:
                self._waiting_until = item.not_before
                effects.append(Wait(item.not_before))
                return effects
            if (
                window is not None
                and item.maybe_delivered
                and not self._lasting_dedupe
                and now - window.ended_at > DEDUPE_HORIZON_MS
            ):
                self._order.remove(item)
                effects.append(Forget(item.key, "older than the server's 5-minute dedupe horizon"))
                continue
            self._in_flight = item.key
            effects.append(
                Send(item.key, item.url, item.body, stored=window is not None, replay=item.replay)
            )
            return effects
        return effects
