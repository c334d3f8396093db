"""The error family keeps its fields and picks the session status first."""

from engage_web import AttemptTimeout, FieldError, NetworkError, RequestError, TransportError


def test_request_error_prefers_session_status_and_keeps_every_problem():
    """A request with a bad sid and a bad appType is a 401 naming the sid, listing both."""
    err = RequestError([FieldError("appType", "bad"), FieldError("sid", "needs vid", 401)])
    assert (err.status, err.field) == (401, "sid")
    assert [e.field for e in err.errors] == ["appType", "sid"]
    assert "and 1 more problem" in str(err)


def test_transport_errors_are_oserrors_with_a_reason():
    """Transport failures are OSErrors (like pyodide's AbortError) and say how to classify them."""
    assert isinstance(NetworkError("refused"), OSError)
    assert NetworkError("x").reason == "network"
    timeout = AttemptTimeout(2.5)
    assert (timeout.reason, timeout.timeout) == ("timeout", 2.5)
    assert str(timeout) == "no answer within 2.5 s"
    assert isinstance(timeout, TransportError)
