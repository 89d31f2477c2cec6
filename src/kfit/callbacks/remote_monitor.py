"""`RemoteMonitor`: POSTs each epoch's logs to an HTTP server, with the standard library only."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
import warnings
from typing import Any

import numpy as np
import torch

from kfit.backend import conversion
from kfit.backend.distributed import is_main_process
from kfit.callbacks.callback import Callback

__all__ = ["RemoteMonitor"]

Logs = dict[str, Any]


def _jsonable(value: Any) -> Any:
    """Numpy and torch values as the Python numbers (or nested lists) JSON can hold."""
    if isinstance(value, torch.Tensor):
        value = conversion.to_host(value)
    if isinstance(value, (np.ndarray, np.generic)):
        return value.item() if value.size == 1 else value.tolist()
    return value


class RemoteMonitor(Callback):
    """Sends `{"epoch": epoch, **logs}` to `root + path` as an HTTP POST at the end of each epoch.

    By default the payload is a form with one field, `field=<the JSON text>`
    (`application/x-www-form-urlencoded`), as Keras sends it; with `send_as_json=True` the body
    is the JSON itself (`application/json`). Numpy and torch values are sent as Python numbers
    (arrays as lists). If the server cannot be reached, or answers with an HTTP error, a
    `UserWarning` naming the URL is issued and training goes on.

    The request is synchronous, so a slow server delays the epoch by up to `timeout` seconds.

    Args:
        root: the server's root URL.
        path: the path, relative to `root`, that receives the events.
        field: the form field that holds the JSON text (unused with `send_as_json`).
        headers: extra HTTP headers, e.g. `{"Authorization": "Bearer ..."}`.
        send_as_json: send the JSON as the request body instead of a form field.
        timeout: seconds to wait for the server before giving up on this epoch's event.

    Differences from Keras:
        - Uses `urllib` from the standard library; Keras needs `requests`.
        - `timeout` is new (Keras waits as long as `requests` does: forever by default).
        - An HTTP error status (4xx, 5xx) also warns; Keras ignores the response.

    Example:
        >>> import warnings
        >>> monitor = RemoteMonitor(root="http://127.0.0.1:1", timeout=1.0)  # nothing listens there
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     monitor.on_epoch_end(0, {"loss": 0.5})
        >>> "Could not reach RemoteMonitor root server" in str(caught[0].message)
        True
    """

    def __init__(
        self,
        root: str = "http://localhost:9000",
        path: str = "/publish/epoch/end/",
        field: str = "data",
        headers: dict[str, str] | None = None,
        send_as_json: bool = False,
        timeout: float = 10.0,
    ) -> None:
        super().__init__()
        if not isinstance(root, str) or not isinstance(path, str):
            bad, value = ("root", root) if not isinstance(root, str) else ("path", path)
            raise TypeError(
                f"Expected `{bad}` to be a string. Received: {bad}={value!r} (of type "
                f"{type(value).__name__}). Pass e.g. root='http://localhost:9000', "
                "path='/publish/epoch/end/'."
            )
        if not (isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0):
            raise ValueError(
                "Expected `timeout` to be a positive number of seconds. "
                f"Received: timeout={timeout!r} (of type {type(timeout).__name__}). Pass e.g. timeout=10."
            )
        self.root = root
        self.path = path
        self.field = field
        self.headers = headers
        self.send_as_json = send_as_json
        self.timeout = float(timeout)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if not is_main_process():
            return  # data-parallel: the logs are the same on every rank; rank 0 sends them
        payload = {"epoch": epoch}
        payload.update({k: _jsonable(v) for k, v in (logs or {}).items()})
        text = json.dumps(payload)
        if self.send_as_json:
            body = text.encode("utf-8")
            content_type = "application/json"
        else:
            body = urllib.parse.urlencode({self.field: text}).encode("ascii")
            content_type = "application/x-www-form-urlencoded"
        headers = {"Content-Type": content_type, **(self.headers or {})}
        url = self.root + self.path
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as error:
            warnings.warn(
                f"RemoteMonitor's server at {url} answered HTTP {error.code} ({error.reason}); "
                f"the logs of epoch {epoch} were not accepted.",
                stacklevel=2,
            )
        except (OSError, http.client.HTTPException) as error:
            # URLError, refused connections and timeouts are all OSErrors.
            warnings.warn(
                f"Could not reach RemoteMonitor root server at {self.root} (POST {url} failed: "
                f"{error}). Training goes on without sending these logs.",
                stacklevel=2,
            )
