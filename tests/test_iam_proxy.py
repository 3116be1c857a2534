"""The delaying, fault-injecting IAM proxy (tests/iam_proxy.py), driven by a real boto3 IAM
client against the session's moto server."""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

from tests.faults import instant_retries
from tests.iam_clients import direct_client
from tests.iam_proxy import IamProxy, _TokenBucket
from users.iam.errors import Throttled
from users.iam.gateway import IamGateway

ROOT = Path(__file__).resolve().parents[1]


def client_for(url: str, attempts: int = 1) -> Any:
    """boto3 IAM on `url`; `attempts` counts the first one (1: no retries)."""
    return direct_client(url, attempts)


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


def user_names(iam: Any) -> list[str]:
    return [user["UserName"] for user in iam.list_users()["Users"]]


@pytest.fixture
def proxy(iam_server: str) -> Iterator[IamProxy]:
    """A proxy, without latency, in front of the emptied moto server."""
    with IamProxy(iam_server, seed=7) as running:
        yield running


@pytest.fixture
def direct(iam_server: str) -> Any:
    """boto3 straight to the moto server: what IAM really holds."""
    return client_for(iam_server)


def test_it_passes_calls_through(proxy: IamProxy, direct: Any) -> None:
    iam = client_for(proxy.url)

    created = iam.create_user(UserName="alice", Tags=[{"Key": "team", "Value": "a b&c=d"}])["User"]
    iam.create_login_profile(UserName="alice", Password="Correct-horse-1")

    assert created["UserName"] == "alice"
    assert direct.get_user(UserName="alice")["User"]["Tags"] == [{"Key": "team", "Value": "a b&c=d"}]
    assert user_names(iam) == ["alice"]
    with pytest.raises(ClientError) as excinfo:  # moto's own errors come back unchanged
        iam.get_user(UserName="nobody")
    assert error_of(excinfo)[:2] == ("NoSuchEntity", 404)
    counts = proxy.counts
    assert counts.forwarded == {"CreateUser": 1, "CreateLoginProfile": 1, "ListUsers": 1, "GetUser": 1}
    assert not counts.injected and not counts.dropped


def test_it_passes_other_requests_through_uncounted(proxy: IamProxy, direct: Any) -> None:
    direct.create_user(UserName="alice")

    with urllib.request.urlopen(f"{proxy.url}/moto-api/data.json", timeout=30) as response:
        data = json.load(response)
    reset = urllib.request.Request(f"{proxy.url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(reset, timeout=30) as response:
        assert response.status == 200

    assert "iam" in data
    assert user_names(direct) == []
    assert not proxy.counts.forwarded


def test_it_keeps_the_client_connection_alive(proxy: IamProxy) -> None:
    iam = client_for(proxy.url)

    for _ in range(5):
        iam.list_users()

    assert proxy.counts.forwarded["ListUsers"] == 5
    assert proxy._server is not None
    assert len(proxy._server.open_sockets) == 1  # one connection for the five calls


def test_it_adds_its_latency_to_every_iam_call(iam_server: str) -> None:
    with IamProxy(iam_server, latency=0.05) as proxy:
        iam = client_for(proxy.url)
        iam.list_users()  # the connection is open: time the call only
        start = time.perf_counter()
        iam.list_users()
        slow = time.perf_counter() - start
        proxy.latency = 0
        start = time.perf_counter()
        iam.list_users()
        fast = time.perf_counter() - start

    assert slow >= 0.05
    assert fast < slow


@pytest.mark.parametrize(
    ("code", "status", "kind"), [("Throttling", 400, "Sender"), ("ServiceFailure", 500, "Receiver")]
)
def test_it_answers_with_an_injected_iam_error(proxy: IamProxy, direct: Any, code: str, status: int, kind: str) -> None:
    fault = proxy.add_fault(action="CreateUser", code=code, status=status, message="Rate <exceeded>")
    iam = client_for(proxy.url)

    with pytest.raises(ClientError) as excinfo:
        iam.create_user(UserName="alice")

    assert error_of(excinfo) == (code, status, "Rate <exceeded>")
    assert excinfo.value.response["Error"]["Type"] == kind  # type: ignore[typeddict-item]  # not in botocore-stubs
    assert excinfo.value.response["ResponseMetadata"]["RequestId"] == fault.request_ids[0]
    assert fault.hits == 1
    assert user_names(direct) == []  # never forwarded
    assert proxy.counts.injected == {"CreateUser": 1}
    assert not proxy.counts.forwarded
    iam.list_users()  # other actions pass


def test_it_injects_a_fault_at_most_times_times(proxy: IamProxy, direct: Any) -> None:
    fault = proxy.add_fault(action="CreateUser", code="Throttling", times=2)

    with instant_retries():  # botocore retries the throttled call as usual, without the sleeps
        client_for(proxy.url, attempts=3).create_user(UserName="alice")
        client_for(proxy.url).create_user(UserName="bob")

    assert fault.hits == 2
    assert sorted(user_names(direct)) == ["alice", "bob"]
    assert proxy.counts.injected == {"CreateUser": 2}
    assert proxy.counts.forwarded == {"CreateUser": 2}


def test_it_injects_a_fault_with_its_probability(proxy: IamProxy) -> None:
    fault = proxy.add_fault(code="Throttling", probability=0.3)  # any action
    iam = client_for(proxy.url)

    throttled = 0
    for _ in range(300):
        try:
            iam.list_account_aliases()
        except ClientError as error:
            assert error.response["Error"]["Code"] == "Throttling"
            throttled += 1

    assert 60 <= throttled <= 120  # 90 expected
    assert fault.hits == throttled
    assert proxy.counts.injected["ListAccountAliases"] == throttled
    assert proxy.counts.forwarded["ListAccountAliases"] == 300 - throttled


def test_it_drops_the_response_of_a_call_iam_executed(proxy: IamProxy, direct: Any) -> None:
    direct.create_user(UserName="alice")
    fault = proxy.add_fault(action="CreateAccessKey", drop_response=True, times=1)
    iam = client_for(proxy.url)

    with pytest.raises(ConnectionClosedError):
        iam.create_access_key(UserName="alice")

    assert len(direct.list_access_keys(UserName="alice")["AccessKeyMetadata"]) == 1  # executed
    assert fault.hits == 1
    assert proxy.counts.dropped == {"CreateAccessKey": 1}
    assert proxy.counts.forwarded == {"CreateAccessKey": 1}
    iam.create_access_key(UserName="alice")  # times=1: the next one is answered
    assert len(direct.list_access_keys(UserName="alice")["AccessKeyMetadata"]) == 2


def test_it_matches_faults_on_the_user_name(proxy: IamProxy, direct: Any) -> None:
    proxy.add_fault(user_name="bob", code="AccessDenied", status=403)  # any action on bob
    iam = client_for(proxy.url)

    iam.create_user(UserName="alice")
    iam.get_user(UserName="alice")
    with pytest.raises(ClientError) as excinfo:
        iam.create_user(UserName="bob")
    assert error_of(excinfo)[:2] == ("AccessDenied", 403)
    direct.create_user(UserName="bob")
    with pytest.raises(ClientError):
        iam.get_user(UserName="bob")
    proxy.add_fault(action="CreateAccessKey", user_name="Alice", code="LimitExceeded")
    iam.create_access_key(UserName="alice")  # names match exactly, as IAM passes them on

    assert proxy.counts.injected == {"CreateUser": 1, "GetUser": 1}


def test_it_forwards_everything_again_once_the_faults_are_cleared(proxy: IamProxy, direct: Any) -> None:
    proxy.add_fault(code="Throttling")
    iam = client_for(proxy.url)
    with pytest.raises(ClientError):
        iam.create_user(UserName="alice")

    proxy.clear_faults()
    iam.create_user(UserName="alice")

    assert user_names(direct) == ["alice"]
    proxy.reset_counts()
    assert not proxy.counts.injected and not proxy.counts.forwarded


def test_it_holds_matching_calls_until_released(proxy: IamProxy, direct: Any) -> None:
    held = proxy.hold("CreateUser", user_name="alice")
    iam = client_for(proxy.url)
    with ThreadPoolExecutor(1) as pool:
        creating = pool.submit(iam.create_user, UserName="alice")
        iam.create_user(UserName="bob")  # not held
        deadline = time.monotonic() + 5
        while held.arrived == 0:
            assert time.monotonic() < deadline, "the held call never reached the proxy"
            time.sleep(0.01)
        assert not creating.done() and user_names(direct) == ["bob"]
        held.release()
        assert creating.result(timeout=5)["User"]["UserName"] == "alice"
    assert sorted(user_names(direct)) == ["alice", "bob"]


def test_it_refuses_an_unclear_fault(proxy: IamProxy) -> None:
    with pytest.raises(ValueError):
        proxy.add_fault(action="CreateUser")  # neither an error nor a drop
    with pytest.raises(ValueError):
        proxy.add_fault(code="Throttling", drop_response=True)
    with pytest.raises(ValueError):
        proxy.add_fault(code="Throttling", probability=1.5)


def test_it_throttles_the_requests_its_token_bucket_has_no_token_for(iam_server: str, direct: Any) -> None:
    with IamProxy(iam_server, rate=0.001, burst=3) as proxy:  # no refill within the test
        iam = client_for(proxy.url)
        for name in ("alice", "bob", "carol"):
            iam.create_user(UserName=name)
        with pytest.raises(ClientError) as excinfo:
            iam.create_user(UserName="dave")
        with pytest.raises(ClientError):
            iam.list_users()  # any IAM action: one bucket
        counts = proxy.counts

    assert error_of(excinfo) == ("Throttling", 400, "Rate exceeded")
    assert excinfo.value.response["Error"]["Type"] == "Sender"  # type: ignore[typeddict-item]  # not in botocore-stubs
    assert excinfo.value.response["ResponseMetadata"]["RequestId"]
    assert user_names(direct) == ["alice", "bob", "carol"]  # never forwarded
    assert counts.throttled == {"CreateUser": 1, "ListUsers": 1}
    assert counts.forwarded == {"CreateUser": 3}
    assert not counts.injected


def test_its_token_bucket_refills_at_its_rate(proxy: IamProxy) -> None:
    now = [0.0]
    proxy._bucket = _TokenBucket(rate=2.0, burst=1, clock=lambda: now[0])
    iam = client_for(proxy.url)

    iam.list_users()
    with pytest.raises(ClientError):
        iam.list_users()
    now[0] += 0.4  # 0.8 token
    with pytest.raises(ClientError):
        iam.list_users()
    now[0] += 0.1
    iam.list_users()
    now[0] += 10.0  # holds `burst` tokens at most
    iam.list_users()
    with pytest.raises(ClientError):
        iam.list_users()

    assert proxy.counts.forwarded == {"ListUsers": 3}
    assert proxy.counts.throttled == {"ListUsers": 3}


def test_the_gateway_retries_a_throttled_call_then_raises_throttled(iam_server: str, settings) -> None:
    settings.IAM_BACKEND, settings.IAM_MAX_ATTEMPTS = "endpoint", 3
    with IamProxy(iam_server, rate=0.001, burst=1) as proxy:
        settings.IAM_ENDPOINT_URL = proxy.url
        gateway = IamGateway.from_settings()
        try:
            assert gateway.list_users() == []
            with instant_retries(), pytest.raises(Throttled) as excinfo:
                gateway.list_users()
        finally:
            IamGateway.forget_clients()

    error = excinfo.value
    assert (error.code, error.message, error.http_status) == ("Throttling", "Rate exceeded", 400)
    assert proxy.counts.throttled == {"ListUsers": 3}  # botocore sent it IAM_MAX_ATTEMPTS times


def test_it_refuses_a_rate_limit_without_tokens(iam_server: str) -> None:
    with pytest.raises(ValueError):
        IamProxy(iam_server, rate=0)
    with pytest.raises(ValueError):
        IamProxy(iam_server, rate=5, burst=0.5)


def test_it_closes_its_connections_when_stopped(iam_server: str) -> None:
    proxy = IamProxy(iam_server).start()
    iam = client_for(proxy.url)
    iam.list_users()

    proxy.stop()

    with pytest.raises((EndpointConnectionError, ConnectionClosedError)):
        iam.list_users()


def test_it_runs_from_the_command_line(iam_server: str, direct: Any) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.iam_proxy", "--upstream", iam_server, "--latency", "0.01", "--rate", "0.001"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        readable, _, _ = select.select([process.stdout], [], [], 30)
        assert readable, "no ready line within 30 s"
        line = process.stdout.readline()
        assert line.startswith("IAM proxy ready on http://127.0.0.1:")
        assert "0.001 requests/s" in line
        iam = client_for(line.split()[4])
        iam.create_user(UserName="alice")  # the bucket's one token (burst: the rate, at least 1)
        with pytest.raises(ClientError):
            iam.create_user(UserName="bob")
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)

    assert process.returncode == 0
    assert user_names(direct) == ["alice"]
    counts = json.loads(err.partition("IAM proxy counts: ")[2])
    assert counts == {"dropped": {}, "forwarded": {"CreateUser": 1}, "injected": {}, "throttled": {"CreateUser": 1}}
