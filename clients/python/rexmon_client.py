"""Send events to a rexmon collector from Python: one file, standard library only (copy it next to your script).

    from rexmon_client import send_event
    send_event("job.state", source="wrapper01", experiment="nova", data={"job": "123.0", "to": "held"})

``send_event`` checks the event, puts it in a bounded in-memory queue and returns at once; a background
thread posts batches to ``POST /api/v1/events``. It never raises into the caller and never blocks it:
  - 200/201/202: delivered;
  - 503/429 (and other 5xx): the collector is busy, events are kept and sent again (Retry-After is honoured);
  - other 4xx: the events will never be taken; dropped, counted, and the reason logged once;
  - no connection / timeout: the collector is away; events are kept while the queue has room, then the newest
    are dropped, counted.
At exit the queue is flushed for at most ``exit_timeout`` seconds (atexit). ``stats()`` gives the counts.
Settings: ``configure(url=..., token=..., ...)`` or the environment: REXMON_URL, REXMON_TOKEN.
"""

import atexit
import collections
import datetime
import json
import logging
import math
import os
import re
import socket
import threading
import time as _time
import urllib.error
import urllib.request

__all__ = ["EventClient", "configure", "send_event", "flush", "stats", "close"]

log = logging.getLogger("rexmon_client")

# The collector's rules (collector/src/events/model.ts, model/series.ts), checked before an event is queued
# so that one bad event never makes the collector refuse a whole batch.
_TYPE_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
_LABEL_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_MAX_SOURCE, _MAX_LABELS, _MAX_LABEL_VALUE, _MAX_NAME = 200, 32, 1024, 200
_MAX_DATA_KEYS, _MAX_DATA_KEY, _MAX_DATA_BYTES = 64, 100, 4096
_MAX_BATCH = 10000


class InvalidEvent(ValueError):
    """Raised only inside the client; the caller sees False from send_event."""


def _check(type_, source, time_, labels, data):
    if not isinstance(type_, str) or not _TYPE_RE.match(type_):
        raise InvalidEvent("type %r must be 1 to 100 of letters, digits, '_', '.', ':', '-'" % (type_,))
    if not isinstance(source, str) or source == "":
        raise InvalidEvent("source is required (a non-empty string)")
    if len(source) > _MAX_SOURCE or _CONTROL_RE.search(source):
        raise InvalidEvent("source must be at most %d characters without control characters" % _MAX_SOURCE)
    if len(labels) > _MAX_LABELS:
        raise InvalidEvent("more than %d labels" % _MAX_LABELS)
    out_labels = {}
    for k, v in labels.items():
        if not _LABEL_RE.match(k) or len(k) > _MAX_NAME or k.startswith("__"):
            raise InvalidEvent("label name %r must match [A-Za-z_][A-Za-z0-9_]* (not starting with __)" % (k,))
        if not isinstance(v, str):
            v = str(v)
        if len(v) > _MAX_LABEL_VALUE or _CONTROL_RE.search(v):
            raise InvalidEvent("labels.%s: value longer than %d characters or with a control character" % (k, _MAX_LABEL_VALUE))
        out_labels[k] = v
    data = data or {}
    if not isinstance(data, dict):
        raise InvalidEvent("data must be a dict of str, int, float, bool")
    if len(data) > _MAX_DATA_KEYS:
        raise InvalidEvent("data has %d keys; at most %d" % (len(data), _MAX_DATA_KEYS))
    for k, v in data.items():
        if not isinstance(k, str) or k == "" or len(k) > _MAX_DATA_KEY or _CONTROL_RE.search(k):
            raise InvalidEvent("data key %r must be 1 to %d characters without control characters" % (k, _MAX_DATA_KEY))
        if isinstance(v, float) and not math.isfinite(v):
            raise InvalidEvent("data.%s must be a finite number" % k)
        if not isinstance(v, (str, int, float, bool)):
            raise InvalidEvent("data.%s must be a str, number or bool (data is flat; got %s)" % (k, type(v).__name__))
    if len(json.dumps(data, ensure_ascii=False).encode("utf-8")) > _MAX_DATA_BYTES:
        raise InvalidEvent("data is larger than %d bytes as JSON" % _MAX_DATA_BYTES)
    event = {"type": type_, "source": source, "time": _time_ms(time_), "labels": out_labels}
    if data:
        event["data"] = data
    return event


def _time_ms(t):
    """Unix ms, taken now when no time is given (send time, not delivery time)."""
    if t is None:
        return int(_time.time() * 1000)
    if isinstance(t, datetime.datetime):
        if t.tzinfo is None:
            t = t.astimezone()  # naive: this machine's zone, as the CLI reads times
        return int(t.timestamp() * 1000)
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t <= 0:
        raise InvalidEvent("time must be a datetime, Unix seconds or Unix milliseconds")
    return int(t) if t > 1e11 else int(t * 1000)


class EventClient:
    def __init__(self, url=None, token=None, source=None, max_buffer=10000, batch_size=500, flush_interval=1.0,
                 request_timeout=5.0, max_backoff=30.0, exit_timeout=2.0):
        base = url or os.environ.get("REXMON_URL") or "http://127.0.0.1:8080"
        self.url = base.rstrip("/") + "/api/v1/events"
        self.token = token if token is not None else os.environ.get("REXMON_TOKEN")
        self.source = source or socket.gethostname()
        self.max_buffer = max(1, int(max_buffer))
        self.batch_size = min(_MAX_BATCH, max(1, int(batch_size)))
        self.flush_interval = flush_interval
        self.request_timeout = request_timeout
        self.max_backoff = max_backoff
        self.exit_timeout = exit_timeout
        self._queue = collections.deque()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._idle = threading.Condition(self._lock)
        self._sending = False
        self._closed = False
        self._said = set()
        self._sent = 0
        self._dropped = {"invalid": 0, "rejected": 0, "buffer_full": 0, "shutdown": 0}
        self._reachable = True
        self._not_before = 0.0
        self._backoff = 0.0
        self._flush_now = False
        # A daemon thread: it never keeps the program alive; atexit gives it a bounded last flush.
        self._thread = threading.Thread(target=self._run, name="rexmon-events", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    # ---- the caller's side: never raises, never waits on the network
    def send(self, type_, source=None, time=None, data=None, **labels):
        try:
            event = _check(type_, source or self.source, time, labels, data)
        except Exception as e:  # noqa: BLE001 - nothing may reach the caller
            self._drop("invalid", 1, "event %r is invalid and was dropped: %s" % (type_, e))
            return False
        with self._lock:
            if self._closed:
                self._drop_locked("shutdown", 1, "event sent after close() was dropped")
                return False
            if len(self._queue) >= self.max_buffer:
                self._drop_locked("buffer_full", 1, "buffer full (%d events; the collector at %s is away or slow): new events "
                                  "are dropped" % (self.max_buffer, self.url))
                return False
            self._queue.append(event)
            if len(self._queue) >= self.batch_size:
                self._wake.notify()
        return True

    def stats(self):
        with self._lock:
            return {"sent": self._sent, "buffered": len(self._queue), "dropped": dict(self._dropped),
                    "reachable": self._reachable}

    def flush(self, timeout=5.0):
        """Waits (at most `timeout` s) until the queue is empty or the collector is found away. Never raises."""
        deadline = _time.monotonic() + timeout
        with self._lock:
            self._flush_now = True
            self._wake.notify()
            while self._queue or self._sending:
                left = deadline - _time.monotonic()
                if left <= 0 or (not self._reachable and not self._sending):
                    break
                self._idle.wait(min(left, 0.1))
                if not self._reachable and not self._sending:
                    break
                self._flush_now = True
                self._wake.notify()
        return self.stats()

    def close(self, timeout=None):
        """Last bounded flush, then the thread stops; what is left is dropped (counted, said once)."""
        with self._lock:
            if self._closed:
                return self.stats()
            self._closed = True
            self._not_before = 0.0  # one more try even during a backoff
        self.flush(self.exit_timeout if timeout is None else timeout)
        with self._lock:
            left = len(self._queue)
            if left:
                self._queue.clear()
                self._drop_locked("shutdown", left, "closing with %d event(s) not delivered to %s: dropped" % (left, self.url))
            self._wake.notify()
        return self.stats()

    # ---- the background thread
    def _run(self):
        while True:
            with self._lock:
                while True:
                    if self._closed and not self._queue:
                        return
                    now = _time.monotonic()
                    due = self._queue and now >= self._not_before and (
                        self._flush_now or len(self._queue) >= self.batch_size or self._closed)
                    if due:
                        break
                    wait = self.flush_interval if now >= self._not_before else self._not_before - now
                    if not self._wake.wait(wait) and self._queue and _time.monotonic() >= self._not_before:
                        break  # the interval passed: send what there is
                self._flush_now = False
                batch = [self._queue[i] for i in range(min(self.batch_size, len(self._queue)))]
                self._sending = True
            try:
                outcome = self._post(batch)
            except Exception as e:  # noqa: BLE001 - a bug here must not kill the thread
                self._say("bug", "unexpected error while sending: %r" % (e,))
                outcome = "retry"
            with self._lock:
                self._sending = False
                if outcome == "done":
                    self._backoff = 0.0
                else:
                    self._backoff = min(self.max_backoff, self._backoff * 2 if self._backoff else 0.25)
                    self._not_before = max(self._not_before, _time.monotonic() + self._backoff)
                self._idle.notify_all()

    def _post(self, batch):
        body = json.dumps(batch).encode("utf-8")
        headers = {"content-type": "application/json"}
        if self.token:
            headers["authorization"] = "Bearer " + self.token
        req = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.request_timeout) as res:
                status, text, retry_after = res.status, res.read(), None
        except urllib.error.HTTPError as e:
            status, text, retry_after = e.code, e.read(), e.headers.get("retry-after")
        except (OSError, ValueError) as e:  # URLError, timeouts, resets, a bad URL
            with self._lock:
                was = self._reachable
                self._reachable = False
            if was:
                self._say_now("collector at %s is away (%s); keeping up to %d events and retrying"
                              % (self.url, getattr(e, "reason", e), self.max_buffer))
            return "away"
        with self._lock:
            if not self._reachable:
                self._say_now("collector at %s is back; %d events buffered, %d dropped meanwhile"
                              % (self.url, len(self._queue), self._dropped["buffer_full"]))
            self._reachable = True
            if status in (200, 201, 202):
                self._pop(len(batch))
                self._sent += len(batch)
                return "done"
        message = _error_text(text)
        if status in (429, 503) or status >= 500:
            try:
                after = float(retry_after) if retry_after else 0.0
            except ValueError:
                after = 0.0
            with self._lock:
                if after > 0:
                    self._not_before = _time.monotonic() + min(after, self.max_backoff)
            self._say("busy%d" % status, "collector answered HTTP %d (%s); events are kept and sent again later" % (status, message))
            return "retry"
        bad = _bad_indexes(text, len(batch)) if status == 400 else set()
        with self._lock:
            # Only this thread (and close, once it gave up) removes from the left: the batch is the queue's head.
            self._pop(len(batch))
            if bad and len(bad) < len(batch):
                # A 400 names the refused events by index: drop those, send the rest again first.
                self._queue.extendleft(reversed([e for i, e in enumerate(batch) if i not in bad]))
                self._drop_locked("rejected", len(bad), "collector refused events (HTTP 400: %s); those were dropped, "
                                  "the rest are sent again" % message)
            else:
                self._drop_locked("rejected", len(batch), "collector refused %d events with HTTP %d (%s); they were dropped"
                                  % (len(batch), status, message))
        return "done"

    def _pop(self, n):
        for _ in range(min(n, len(self._queue))):
            self._queue.popleft()

    # ---- saying why, once per reason
    def _drop(self, reason, n, why):
        with self._lock:
            self._drop_locked(reason, n, why)

    def _drop_locked(self, reason, n, why):
        self._dropped[reason] += n
        if reason not in self._said:
            self._said.add(reason)
            self._emit("%s (further drops of this kind are only counted: stats()['dropped']['%s'])" % (why, reason))

    def _say(self, key, message):
        with self._lock:
            if key in self._said:
                return
            self._said.add(key)
        self._emit(message)

    def _say_now(self, message):
        self._emit(message)

    @staticmethod
    def _emit(message):
        try:
            log.warning("rexmon client: %s", message)
        except Exception:  # noqa: BLE001
            pass


def _error_text(raw):
    try:
        doc = json.loads(raw.decode("utf-8", "replace"))
        msg = doc.get("error", {}).get("message")
        if msg:
            return msg[:300]
    except (ValueError, AttributeError):
        pass
    return raw[:200].decode("utf-8", "replace") or "no message"


def _bad_indexes(raw, n):
    try:
        errors = json.loads(raw.decode("utf-8", "replace")).get("error", {}).get("errors", [])
        return {e["index"] for e in errors if isinstance(e.get("index"), int) and 0 <= e["index"] < n}
    except (ValueError, AttributeError, TypeError, KeyError):
        return set()


_shared = None
_shared_options = {}
_shared_lock = threading.Lock()


def configure(**options):
    """Options for the client behind send_event (url, token, source, max_buffer, batch_size, ...); call first."""
    global _shared_options
    _shared_options = options


def _client():
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = EventClient(**_shared_options)
        return _shared


def send_event(type, source=None, time=None, data=None, **labels):  # noqa: A002 - the API's word
    """Queues one event; True when queued, False when dropped (invalid, queue full). Never raises."""
    try:
        return _client().send(type, source=source, time=time, data=data, **labels)
    except Exception:  # noqa: BLE001 - e.g. bad configure() options: the caller must still not see it
        log.warning("rexmon client: could not start the event client", exc_info=True)
        return False


def flush(timeout=5.0):
    return _client().flush(timeout) if _shared else {"sent": 0, "buffered": 0, "dropped": {}, "reachable": True}


def stats():
    return _shared.stats() if _shared else {"sent": 0, "buffered": 0, "dropped": {}, "reachable": True}


def close(timeout=None):
    return _shared.close(timeout) if _shared else stats()
