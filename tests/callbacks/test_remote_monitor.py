"""RemoteMonitor POSTs epoch logs to a real local HTTP server, with the standard library only."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import urllib.parse

import numpy as np
import pytest
import torch

import kfit
from kfit.callbacks import RemoteMonitor


class _Recorder(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        self.send_response(self.server.status)
        self.end_headers()

    def log_message(self, *args) -> None:  # keep the test output clean
        pass


@pytest.fixture
def server():
    httpd = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    httpd.requests = []
    httpd.status = 200
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    httpd.root = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_form_encoded_payload_like_keras(server):
    monitor = RemoteMonitor(root=server.root)
    monitor.on_epoch_end(3, {"loss": 0.25, "val_loss": 0.5})
    (request,) = server.requests
    assert request["path"] == "/publish/epoch/end/"
    assert request["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    form = urllib.parse.parse_qs(request["body"].decode())
    assert list(form) == ["data"]
    assert json.loads(form["data"][0]) == {"epoch": 3, "loss": 0.25, "val_loss": 0.5}


def test_json_payload_custom_path_field_and_headers(server):
    monitor = RemoteMonitor(
        root=server.root, path="/hook", field="ignored", headers={"X-Token": "abc"}, send_as_json=True
    )
    monitor.on_epoch_end(0, {"loss": 1.5})
    (request,) = server.requests
    assert request["path"] == "/hook"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["X-Token"] == "abc"
    assert json.loads(request["body"]) == {"epoch": 0, "loss": 1.5}


def test_form_field_name_and_headers(server):
    RemoteMonitor(root=server.root, field="payload", headers={"X-Run": "7"}).on_epoch_end(1, {"loss": 2.0})
    (request,) = server.requests
    assert request["headers"]["X-Run"] == "7"
    form = urllib.parse.parse_qs(request["body"].decode())
    assert json.loads(form["payload"][0]) == {"epoch": 1, "loss": 2.0}


def test_numpy_and_torch_values_are_serialised(server):
    logs = {
        "f32": np.float32(0.5),
        "scalar_array": np.array(3.0),
        "array": np.array([1, 2]),
        "tensor": torch.tensor(2.0),
        "tensor_vec": torch.tensor([1.0, 4.0]),
    }
    RemoteMonitor(root=server.root, send_as_json=True).on_epoch_end(0, logs)
    sent = json.loads(server.requests[0]["body"])
    assert sent == {
        "epoch": 0, "f32": 0.5, "scalar_array": 3.0, "array": [1, 2], "tensor": 2.0, "tensor_vec": [1.0, 4.0]
    }


def test_unreachable_server_warns_with_the_url_and_training_goes_on():
    root = f"http://127.0.0.1:{_closed_port()}"
    model = kfit.Sequential([kfit.layers.Dense(1, input_dim=4)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((16, 4), "float32"), np.ones(16, "float32")
    with pytest.warns(UserWarning, match="Could not reach RemoteMonitor root server") as record:
        history = model.fit(x, y, epochs=2, verbose=0, callbacks=[RemoteMonitor(root=root, timeout=2)])
    assert history.epoch == [0, 1]
    messages = [str(w.message) for w in record if "RemoteMonitor" in str(w.message)]
    assert len(messages) == 2 and all(root in m for m in messages)


def test_http_error_status_warns(server):
    server.status = 500
    with pytest.warns(UserWarning, match="HTTP 500"):
        RemoteMonitor(root=server.root).on_epoch_end(0, {"loss": 1.0})
    assert len(server.requests) == 1


def test_fit_posts_one_event_per_epoch_matching_history(server):
    rs = np.random.RandomState(0)
    x, y = rs.rand(64, 4).astype("float32"), rs.rand(64).astype("float32")
    model = kfit.Sequential([kfit.layers.Dense(1, input_dim=4)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    history = model.fit(
        x, y, batch_size=16, epochs=3, validation_split=0.25, verbose=0,
        callbacks=[RemoteMonitor(root=server.root, send_as_json=True)],
    )
    sent = [json.loads(r["body"]) for r in server.requests]
    assert [s["epoch"] for s in sent] == [0, 1, 2]
    for key in ("loss", "mae", "val_loss", "val_mae"):
        assert [s[key] for s in sent] == history.history[key]


@pytest.mark.parametrize("timeout", [0, -1.0, "10", True])
def test_invalid_timeout(timeout):
    with pytest.raises(ValueError, match="timeout"):
        RemoteMonitor(timeout=timeout)


def test_invalid_root_type():
    with pytest.raises(TypeError, match=r"Received: root=9000 \(of type int\)"):
        RemoteMonitor(root=9000)
