"""A small httpx client for the parts of Open WebUI's API that qwenkit uses.

Open WebUI is not Ollama, so this is not the Ollama client: it speaks Open WebUI's routes
(open-webui.md §4, observed with 0.12.4) and turns every failure into `WebUIError`. The token
lives only in the request headers; it is never put in a message, a repr or a log line.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from ..errors import InvalidRequestError, WebUIError

TOKEN_ENV = "OPEN_WEBUI_TOKEN"
DEFAULT_TIMEOUT = 30.0
AUTH_HINT = (
    "pass an API key or JWT with --token (or OPEN_WEBUI_TOKEN), or an admin's --email/--password"
)


class OpenWebUI:
    """One Open WebUI server; use as a context manager to close the connection pool."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self._http = httpx.Client(base_url=self.url, timeout=timeout, transport=transport)

    def __enter__(self) -> OpenWebUI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"OpenWebUI({self.url!r}, token={'set' if self._token else 'unset'})"

    def close(self) -> None:
        self._http.close()

    # --- low level ---------------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request; connection problems become `WebUIError`, statuses are returned."""
        try:
            return self._http.request(method, path, headers=self.auth_header(), **kwargs)
        except httpx.TimeoutException as exc:
            raise WebUIError(
                f"Open WebUI at {self.url} timed out on {path}",
                hint="it may be starting (it takes ~15 s) or busy loading a model; retry",
            ) from exc
        except httpx.HTTPError as exc:
            raise WebUIError(
                f"cannot reach Open WebUI at {self.url} ({type(exc).__name__})",
                hint="is it running? check the URL and port (the Docker default is 3000)",
            ) from exc

    def auth_header(self) -> dict[str, str]:
        """The bearer header every route needs (also for its `/ollama/` proxy); never logged."""
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """Like `request`, but a non-2xx status is a `WebUIError` and the body is parsed."""
        return _parse(self.request(method, path, **kwargs), path)

    # --- auth --------------------------------------------------------------------------------

    def sign_in(self, email: str = "", password: str = "") -> None:
        """Get a JWT. With `WEBUI_AUTH=False` any body signs in as the admin (§4.4)."""
        response = self.request(
            "POST", "/api/v1/auths/signin", json={"email": email, "password": password}
        )
        if not response.is_success:
            raise WebUIError(
                f"signing in to Open WebUI failed (HTTP {response.status_code})", hint=AUTH_HINT
            )
        token = response.json().get("token")
        if not isinstance(token, str) or not token:
            raise WebUIError("Open WebUI's sign-in answer had no token", hint=AUTH_HINT)
        self._token = token

    def authenticate(
        self, *, token: str | None = None, email: str | None = None, password: str | None = None
    ) -> None:
        """Token from the argument, then `OPEN_WEBUI_TOKEN`, then sign-in (auth-off works too)."""
        chosen = token or os.environ.get(TOKEN_ENV, "").strip() or None
        if chosen:
            self._token = _checked_token(chosen)
        elif email or password:
            self.sign_in(email or "", password or "")
        else:
            self.sign_in()

    # --- routes ------------------------------------------------------------------------------

    def health(self) -> bool:
        return self.request("GET", "/health").is_success

    def version(self) -> str:
        data = self.json("GET", "/api/version")
        return str(data.get("version", "")) if isinstance(data, dict) else ""

    def get_preset(self, model_id: str) -> dict[str, Any] | None:
        """The full preset record, or None (404) when there is none."""
        path = "/api/v1/models/model"
        response = self.request("GET", path, params={"id": model_id})
        if response.status_code == 404:
            return None
        data = _parse(response, path)
        return data if isinstance(data, dict) else None

    def create_preset(self, body: dict[str, Any]) -> None:
        self.json("POST", "/api/v1/models/create", json=body)

    def update_preset(self, body: dict[str, Any]) -> None:
        """`?id=` for old releases, the id in the body for new ones: one shape fits both."""
        self.json("POST", "/api/v1/models/model/update", params={"id": body["id"]}, json=body)

    def models(self, *, refresh: bool = False) -> list[dict[str, Any]]:
        params = {"refresh": "true"} if refresh else None
        data = self.json("GET", "/api/models", params=params)
        items = data.get("data", []) if isinstance(data, dict) else []
        return [item for item in items if isinstance(item, dict)]

    def chat(self, model: str, text: str, *, timeout: float = 120.0) -> httpx.Response:
        body = {
            "model": model,
            "messages": [{"role": "user", "content": text}],
            "stream": False,
        }
        return self.request("POST", "/api/chat/completions", json=body, timeout=timeout)


def detail_text(response: httpx.Response) -> str:
    """Open WebUI's `detail` (or a `version`) text, shortened; never the request (token)."""
    try:
        data = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(data, dict):
        data = data.get("detail") or data.get("version") or data
    return str(data)[:200]


def _parse(response: httpx.Response, path: str) -> Any:
    """A non-2xx status becomes `WebUIError`; a 2xx body is parsed as JSON."""
    if response.status_code in (401, 403):
        raise WebUIError(
            f"Open WebUI refused {path} (HTTP {response.status_code}: {detail_text(response)})",
            hint=AUTH_HINT,
        )
    if not response.is_success:
        raise WebUIError(
            f"Open WebUI answered HTTP {response.status_code} on {path}: {detail_text(response)}"
        )
    try:
        return response.json()
    except ValueError as exc:
        raise WebUIError(f"Open WebUI sent a non-JSON answer on {path}") from exc


def _checked_token(token: str) -> str:
    """A token goes into an HTTP header: printable ASCII without blanks, or it is a typo."""
    if not (token.isascii() and token.isprintable()) or any(c.isspace() for c in token):
        raise InvalidRequestError(
            "the Open WebUI token contains blanks or characters no token has",
            hint="copy the API key (sk-...) or JWT from Open WebUI: Settings > Account",
        )
    return token
