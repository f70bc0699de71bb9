# Copyright 2026 the Baomi authors. Licensed under the Apache License, Version 2.0 (LICENSE).
"""Baomi's chat door: a Synapse module that has Baomi inspect what local users post.

Messages (their plain and their formatted body, edits included), room names and topics,
and uploaded files and photos go to Baomi's ``POST /api/v1/scan?channel=chat``; what Baomi
blocks is refused, and the sender sees ``消息含涉密内容，已拦截 (BM-…)``. The detection is
Baomi's: this module only carries content there and the verdict back.

Synapse is AGPL; this module talks to Baomi over HTTP only and uses nothing of Synapse but
its module API (plus two logging-context helpers that API exports), so it stays a separate
package under its own licence.

homeserver.yaml::

    modules:
      - module: baomi_synapse.BaomiSpamChecker
        config:
          url: "http://127.0.0.1:8080"
          token: "<a scan token: baomi token create synapse>"
          timeout_s: 5
          media_timeout_s: 30
          fail_open: false
          forbid_encryption: true
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from io import BytesIO
from typing import Any, Dict, List, Optional, Tuple, Union
from urllib.parse import parse_qs, urlencode, urlsplit

from twisted.internet import defer
from twisted.python.failure import Failure
from twisted.web.client import readBody
from twisted.web.http_headers import Headers

from synapse.module_api import (
    NOT_SPAM,
    ModuleApi,
    make_deferred_yieldable,
    run_in_background,
)
from synapse.module_api.errors import Codes, ConfigError

__all__ = ["BaomiSpamChecker", "Config"]
__version__ = "0.1.0"

logger = logging.getLogger(__name__)

BLOCKED_MESSAGE = "消息含涉密内容，已拦截"
BLOCKED_FILE = "文件含涉密内容，已拦截"
BLOCKED_ROOM = "房间名称或主题含涉密内容，已拦截"
UNAVAILABLE = "保密检查服务暂不可用，内容未发送，请稍后重试"
NO_ENCRYPTION = "本服务器不允许端到端加密：加密的内容无法做保密检查"

# What Baomi answers that keeps content from being posted. A chat has no hold queue, so
# quarantine (held for the security officer) refuses too.
REFUSING_ACTIONS = ("block", "quarantine")

Refusal = Tuple[Codes, Dict[str, Any]]
Answer = Union[str, Refusal]


class BaomiUnavailable(Exception):
    """Baomi could not give a verdict: unreachable, too slow, or an error answer."""


@dataclass(frozen=True)
class Config:
    url: str
    token: str
    timeout_s: float = 5.0
    media_timeout_s: float = 30.0
    fail_open: bool = False
    forbid_encryption: bool = True


def _number(raw: Dict[str, Any], key: str, default: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(f"baomi_synapse: `{key}` must be a positive number of seconds")
    return float(value)


def _flag(raw: Dict[str, Any], key: str, default: bool) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"baomi_synapse: `{key}` must be true or false")
    return value


class BaomiSpamChecker:
    """The module class named in homeserver.yaml (``baomi_synapse.BaomiSpamChecker``)."""

    def __init__(self, config: Config, api: ModuleApi):
        self._config = config
        self._api = api
        self._scan_url = config.url + "/api/v1/scan"
        api.register_spam_checker_callbacks(
            check_event_for_spam=self.check_event_for_spam,
            check_media_file_for_spam=self.check_media_file_for_spam,
            user_may_create_room=self.user_may_create_room,
        )

    @staticmethod
    def parse_config(raw: Dict[str, Any]) -> Config:
        if not isinstance(raw, dict):
            raise ConfigError("baomi_synapse: the module's config must be a mapping")
        url = raw.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigError("baomi_synapse: `url` must be Baomi's http(s):// address")
        token = raw.get("token")
        if not isinstance(token, str) or not token.strip():
            raise ConfigError("baomi_synapse: `token` (a Baomi scan token) is required")
        return Config(
            url=url.rstrip("/"),
            token=token.strip(),
            timeout_s=_number(raw, "timeout_s", 5.0),
            media_timeout_s=_number(raw, "media_timeout_s", 30.0),
            fail_open=_flag(raw, "fail_open", False),
            forbid_encryption=_flag(raw, "forbid_encryption", True),
        )

    # ---- the callbacks ------------------------------------------------------------------

    async def check_event_for_spam(self, event: Any) -> Answer:
        # Events of other servers' users reach us over federation: what they post is their
        # server's to inspect, and refusing here would only soft-fail them.
        if not self._api.is_mine(event.sender):
            return NOT_SPAM
        if (
            self._config.forbid_encryption
            and event.type == "m.room.encryption"
            and event.is_state()
        ):
            return _refusal(NO_ENCRYPTION)
        # Synapse freezes events: their content is a Mapping, not a dict.
        content = event.content if isinstance(event.content, Mapping) else {}
        plain, formatted = _texts(event.type, content)
        if not plain and not formatted:
            return NOT_SPAM
        name, body, content_type = _message_object(plain, formatted)
        params = {
            "channel": "chat",
            "user": event.sender,
            "destination": f"matrix:{event.room_id}",
            "source": f"matrix:{self._api.server_name}",
            "name": name,
        }
        return await self._decide(
            body, content_type, params, self._config.timeout_s, BLOCKED_MESSAGE
        )

    async def user_may_create_room(self, user_id: str, room_config: Dict[str, Any]) -> Answer:
        # A room's first state comes with its creation and does not pass
        # check_event_for_spam: an encrypted room, or a marked name, would slip through.
        initial = room_config.get("initial_state")
        initial = initial if isinstance(initial, list) else []
        if self._config.forbid_encryption and any(
            isinstance(e, Mapping) and e.get("type") == "m.room.encryption" for e in initial
        ):
            return _refusal(NO_ENCRYPTION)
        plain: List[str] = []
        for key in ("name", "topic"):
            if isinstance(room_config.get(key), str):
                plain.append(room_config[key])
        for e in initial:
            if isinstance(e, Mapping) and isinstance(e.get("content"), Mapping):
                p, _ = _texts(str(e.get("type")), e["content"])
                plain.extend(p)
        plain = _unique(plain)
        if not plain:
            return NOT_SPAM
        name, body, content_type = _message_object(plain, [])
        params = {
            "channel": "chat",
            "user": user_id,
            "destination": "matrix:new-room",
            "source": f"matrix:{self._api.server_name}",
            "name": name,
        }
        return await self._decide(
            body, content_type, params, self._config.timeout_s, BLOCKED_ROOM
        )

    async def check_media_file_for_spam(self, file_wrapper: Any, file_info: Any) -> Answer:
        # Only what local users upload: thumbnails are made from an upload already inspected,
        # remote media and URL previews come in rather than go out.
        if (
            getattr(file_info, "server_name", None)
            or getattr(file_info, "thumbnail", None)
            or getattr(file_info, "url_cache", False)
        ):
            return NOT_SPAM
        buffer = BytesIO()
        # Reads the stored upload in chunks, yielding to the reactor between them.
        await file_wrapper.write_chunks_to(buffer.write)
        uploader, filename = _upload_request()
        media = f"mxc://{self._api.server_name}/{file_info.file_id}"
        params = {
            "channel": "chat",
            "destination": media,
            "source": f"matrix:{self._api.server_name}",
            "name": filename or str(file_info.file_id),
        }
        if uploader:
            params["user"] = uploader
        # Synapse answers a refused upload with 400 "Bad content" and drops the fields a
        # module returns; the message is still given for the log and for later versions.
        return await self._decide(
            buffer.getvalue(),
            "application/octet-stream",
            params,
            self._config.media_timeout_s,
            BLOCKED_FILE,
        )

    # ---- talking to Baomi ---------------------------------------------------------------

    async def _decide(
        self,
        body: bytes,
        content_type: str,
        params: Dict[str, str],
        timeout: float,
        blocked: str,
    ) -> Answer:
        try:
            answer = await self._scan(body, content_type, params, timeout)
        except Exception as e:  # unreachable, too slow, an error status, not JSON
            if self._config.fail_open:
                logger.warning("Baomi gave no verdict (%s); fail_open lets it through", e)
                return NOT_SPAM
            logger.warning("Baomi gave no verdict (%s); refused (fail closed)", e)
            return _refusal(UNAVAILABLE)
        action = answer.get("action")
        if action not in REFUSING_ACTIONS:
            return NOT_SPAM
        incidents = [i for i in answer.get("incidents") or [] if isinstance(i, str)]
        number = incidents[0] if incidents else None
        logger.info(
            "Baomi %s: %s from %s to %s, incident %s",
            action,
            params.get("name"),
            params.get("user"),
            params.get("destination"),
            number,
        )
        message = f"{blocked} ({number})" if number else blocked
        extra: Dict[str, Any] = {"baomi_action": action}
        if number:
            extra["baomi_incident"] = number
        return _refusal(message, extra)

    async def _scan(
        self, body: bytes, content_type: str, params: Dict[str, str], timeout: float
    ) -> Dict[str, Any]:
        """One call of ``POST /api/v1/scan``, finished or failed within ``timeout`` seconds.

        Why this way: the request goes through Synapse's own non-blocking HTTP client
        (``api.http_client``, Twisted, no proxy, no IP blocklist), so a slow Baomi costs
        the homeserver nothing but an open socket. Its only timeout is a fixed 60 s for the
        response headers, and none covers reading the body; so the whole exchange is run
        as one Deferred and raced against our own timer. The timer fails the check at
        ``timeout`` whatever the request does, then cancels it (which closes the
        connection). The alternative — a blocking ``urllib`` call in a thread — has only
        per-socket-operation timeouts (a Baomi that answers a byte a second never times
        out), cannot be cancelled, and ties up Synapse's thread pool under load.
        ``run_in_background``/``make_deferred_yieldable`` keep Synapse's logging contexts
        right across the wait.
        """
        work = run_in_background(self._post, body, content_type, params)
        return await make_deferred_yieldable(_within(work, timeout))

    async def _post(
        self, body: bytes, content_type: str, params: Dict[str, str]
    ) -> Dict[str, Any]:
        headers = Headers(
            {
                "Authorization": [f"Bearer {self._config.token}"],
                "Content-Type": [content_type],
                "Accept": ["application/json"],
            }
        )
        url = f"{self._scan_url}?{urlencode(params)}"
        response = await self._api.http_client.request("POST", url, data=body, headers=headers)
        raw = await make_deferred_yieldable(readBody(response))
        if response.code != 200:
            text = raw[:200].decode("utf-8", "replace")
            raise BaomiUnavailable(f"HTTP {response.code} from Baomi: {text}")
        try:
            answer = json.loads(raw)
        except ValueError as e:
            raise BaomiUnavailable(f"Baomi's answer is not JSON: {e}") from e
        if not isinstance(answer, dict):
            raise BaomiUnavailable("Baomi's answer is not a JSON object")
        return answer


def _within(work: "defer.Deferred[Any]", timeout: float) -> "defer.Deferred[Any]":
    """A Deferred with ``work``'s result, or failing with BaomiUnavailable after ``timeout``
    seconds. At the deadline ``work`` is cancelled first — so it unwinds while the request's
    logging context is still open — and the answer fails even if ``work`` ignores the
    cancellation."""
    from twisted.internet import reactor

    out: "defer.Deferred[Any]" = defer.Deferred()
    expired = []

    def too_late() -> Failure:
        return Failure(BaomiUnavailable(f"no answer within {timeout:g} s"))

    def expire() -> None:
        expired.append(True)
        work.cancel()
        if not out.called:
            out.errback(too_late())

    timer = reactor.callLater(timeout, expire)  # type: ignore[attr-defined]

    def finished(result: Any) -> None:
        if timer.active():
            timer.cancel()
        if out.called:
            return None  # the check has failed already (a late Failure is dropped here)
        if expired:
            out.errback(too_late())  # the CancelledError of our own cancel
        elif isinstance(result, Failure):
            out.errback(result)
        else:
            out.callback(result)
        return None

    work.addBoth(finished)
    return out


def _refusal(message: str, extra: Optional[Dict[str, Any]] = None) -> Refusal:
    # Synapse turns (code, fields) into a 403 with `errcode` = code and the fields merged
    # into the JSON body after its own generic `error` text ("This message has been
    # rejected as probable spam"), so our `error` replaces that text: the sender sees
    # {"errcode": "M_FORBIDDEN", "error": "消息含涉密内容，已拦截 (BM-…)", "baomi_incident": …}.
    fields: Dict[str, Any] = {"error": message}
    fields.update(extra or {})
    return Codes.FORBIDDEN, fields


def _unique(texts: List[str]) -> List[str]:
    seen = set()
    out = []
    for t in texts:
        if t.strip() and t not in seen:
            seen.add(t)
            out.append(t)
    return out


def _texts(event_type: str, content: Mapping) -> Tuple[List[str], List[str]]:
    """The plain and the formatted (HTML) texts an event carries."""
    plain: List[str] = []
    formatted: List[str] = []
    sources = [content]
    # An edit carries the new text in `m.new_content` (its `body` is "* " + the text).
    if isinstance(content.get("m.new_content"), Mapping):
        sources.append(content["m.new_content"])
    for c in sources:
        if isinstance(c.get("body"), str):
            plain.append(c["body"])
        if isinstance(c.get("formatted_body"), str):
            formatted.append(c["formatted_body"])
    if event_type == "m.room.name" and isinstance(content.get("name"), str):
        plain.append(content["name"])
    if event_type == "m.room.topic" and isinstance(content.get("topic"), str):
        plain.append(content["topic"])
    return _unique(plain), _unique(formatted)


def _message_object(plain: List[str], formatted: List[str]) -> Tuple[str, bytes, str]:
    """One object for Baomi per message (so one incident): the text as it is, or, when the
    message has a formatted body, one HTML document holding the plain body (each line as
    written, in <pre>) and the formatted body (as the client sent it), so both are read —
    a client could put different things in them."""
    if not formatted:
        return "message.txt", "\n\n".join(plain).encode("utf-8"), "text/plain; charset=utf-8"
    parts = ['<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head><body>\n']
    parts += [f"<pre>{html.escape(p, quote=False)}</pre>\n" for p in plain]
    parts += [f"<div>{f}</div>\n" for f in formatted]
    parts.append("</body></html>\n")
    return "message.html", "".join(parts).encode("utf-8"), "text/html; charset=utf-8"


def _upload_request() -> Tuple[Optional[str], Optional[str]]:
    """Who is uploading and the file's name. Synapse gives the media callback neither, but
    the upload runs in the request's logging context, which names the authenticated user
    and the URL (`/_matrix/media/v3/upload?filename=…`)."""
    try:
        from synapse.logging.context import current_context

        request = getattr(current_context(), "request", None)
        if request is None:
            return None, None
        user = getattr(request, "requester", None)
        query = parse_qs(urlsplit(getattr(request, "url", "") or "").query)
        names = query.get("filename") or []
        return (user if isinstance(user, str) else None), (names[0] if names else None)
    except Exception:  # an internal of Synapse: never let it fail an upload by itself
        return None, None
