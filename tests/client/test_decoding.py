"""Bodies decode liberally (missing, unknown and new things) and bad bodies fail readably."""

from __future__ import annotations

from typing import Any

import httpx
import msgspec
import pytest
import respx

from duneasync import (
    DuneClient,
    ExecutionState,
    ResponseDecodeError,
    ResponseValidationError,
    RetryPolicy,
    ServerError,
)

from .helpers import EXECUTION_ID, client_for, payload

pytestmark = pytest.mark.anyio

STATUS = f"/execution/{EXECUTION_ID}/status"
RESULTS = f"/execution/{EXECUTION_ID}/results"
ZERO = "1970-01-01T00:00:00Z"


class TableCount(msgspec.Struct):
    """A row of the seed result, typed."""

    TableName: str
    ct: int


async def status_of(dune: DuneClient, router: respx.MockRouter, body: Any) -> Any:
    router.get(STATUS).respond(json=body)
    return await dune.get_execution_status(EXECUTION_ID)


async def test_an_empty_status_body_decodes_with_every_field_absent(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    status = await status_of(dune, router, {})

    assert status.execution_id is None
    assert status.state is None
    assert status.known_state is None
    assert status.submitted_at is None
    assert status.result_metadata is None
    assert status.error is None
    assert not status.is_finished


@pytest.mark.parametrize(
    ("state", "finished"),
    [
        ("QUERY_STATE_PENDING", False),
        ("QUERY_STATE_EXECUTING", False),
        ("QUERY_STATE_COMPLETED", True),
        ("QUERY_STATE_COMPLETED_PARTIAL", True),
        ("QUERY_STATE_FAILED", True),
        ("QUERY_STATE_CANCELLED", True),
        ("QUERY_STATE_EXPIRED", True),
        ("QUERY_STATE_SOMETHING_NEW", False),
    ],
)
async def test_without_the_server_flag_known_terminal_states_decide_is_finished(
    dune: DuneClient, router: respx.MockRouter, state: str, finished: bool
) -> None:
    status = await status_of(dune, router, {"execution_id": EXECUTION_ID, "state": state})

    assert status.state == state
    assert status.is_finished is finished


@pytest.mark.parametrize("flag", [True, False])
@pytest.mark.parametrize("state", ["QUERY_STATE_SOMETHING_NEW", "QUERY_STATE_COMPLETED"])
async def test_is_execution_finished_decides_is_finished_when_present(
    dune: DuneClient, router: respx.MockRouter, state: str, flag: bool
) -> None:
    status = await status_of(dune, router, {"state": state, "is_execution_finished": flag})

    assert status.is_finished is flag


async def test_an_unknown_state_decodes_and_keeps_its_raw_string(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    status = await status_of(
        dune, router, {"state": "QUERY_STATE_QUEUED_ELSEWHERE", "is_execution_finished": False}
    )

    assert status.state == "QUERY_STATE_QUEUED_ELSEWHERE"
    assert status.known_state is None
    assert not status.is_finished


async def test_unknown_fields_are_ignored_at_every_level(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    body = payload("status_completed.json")
    body["brand_new_field"] = {"nested": [1, 2, 3]}
    body["result_metadata"]["column_nullability"] = [True, False]
    body["error"] = {"type": "none", "message": "ok", "hint": "new", "metadata": {"offset": 3}}

    status = await status_of(dune, router, body)

    assert status.state == ExecutionState.COMPLETED
    assert status.result_metadata is not None
    assert status.result_metadata.total_row_count == 8
    assert status.error is not None
    assert status.error.message == "ok"


async def test_zero_timestamps_mean_absent(dune: DuneClient, router: respx.MockRouter) -> None:
    status = await status_of(
        dune,
        router,
        {
            "state": "QUERY_STATE_PENDING",
            "submitted_at": ZERO,
            "execution_started_at": ZERO,
            "execution_ended_at": ZERO,
            "expires_at": ZERO,
            "cancelled_at": ZERO,
        },
    )

    assert status.submitted_at is None
    assert status.execution_started_at is None
    assert status.execution_ended_at is None
    assert status.expires_at is None
    assert status.cancelled_at is None


async def test_nanosecond_timestamps_decode_to_microseconds(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    status = await status_of(dune, router, {"cancelled_at": "2024-12-20T11:04:18.724658237Z"})

    assert status.cancelled_at is not None
    assert status.cancelled_at.isoformat() == "2024-12-20T11:04:18.724658+00:00"


async def test_a_partial_result_is_marked_and_keeps_its_rows(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    body = payload("results_completed.json")
    body["state"] = "QUERY_STATE_COMPLETED_PARTIAL"
    router.get(RESULTS).respond(json=body)

    page = await dune.get_execution_results(EXECUTION_ID, allow_partial_results=True)

    assert page.is_partial
    assert page.is_finished
    assert len(page.rows) == 8


async def test_a_results_page_without_a_result_has_no_rows(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    router.get(RESULTS).respond(json=payload("status_executing.json"))

    page = await dune.get_execution_results(EXECUTION_ID)

    assert page.rows == []
    assert page.metadata is None
    assert not page.is_finished


async def test_an_html_502_from_a_proxy_is_a_readable_server_error(
    router: respx.MockRouter,
) -> None:
    html = (
        b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
        b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
        b"</body>\r\n</html>\r\n" + b"<!-- padding -->\n" * 20
    )
    router.get(STATUS).respond(502, content=html, headers={"Content-Type": "text/html"})

    async with client_for(router, retry=RetryPolicy.never()) as dune:
        with pytest.raises(ServerError) as caught:
            await dune.get_execution_status(EXECUTION_ID)

    error = caught.value
    message = str(error)
    assert error.status_code == 502
    assert error.body_message is None
    assert message.startswith(f"GET /api/v1{STATUS} answered 502 Bad Gateway: <html>")
    assert "\n" not in message
    assert "\r" not in message
    assert len(message) < 300


async def test_truncated_json_on_a_200_is_a_response_decode_error(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    router.get(STATUS).respond(
        content=b'{"execution_id": "01GBM4W2N0NMCGPZYW8AYK4YF1", "state": "QUERY_ST',
        headers={"Content-Type": "application/json"},
    )

    with pytest.raises(ResponseDecodeError) as caught:
        await dune.get_execution_status(EXECUTION_ID)

    message = str(caught.value)
    assert message.startswith(f"GET /api/v1{STATUS} answered 200 with a body that is not")
    assert "application/json" in message
    assert "\n" not in message
    assert caught.value.response.status_code == 200


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b'{"query_id": "980708"}', "$.query_id"),
        (b'{"is_execution_finished": "yes"}', "$.is_execution_finished"),
        (b'{"submitted_at": "yesterday"}', "$.submitted_at"),
        (b'{"result_metadata": {"column_names": "ct"}}', "$.result_metadata.column_names"),
        (b"[]", "array"),
        (b"", "truncated"),
        (b"<html>oops</html>", "malformed"),
    ],
    ids=["string-id", "string-flag", "bad-time", "string-list", "array", "empty", "html"],
)
async def test_a_status_of_the_wrong_shape_is_a_response_decode_error(
    dune: DuneClient, router: respx.MockRouter, body: bytes, where: str
) -> None:
    router.get(STATUS).respond(content=body)

    with pytest.raises(ResponseDecodeError) as caught:
        await dune.get_execution_status(EXECUTION_ID)

    assert where in str(caught.value)


async def test_an_execute_answer_without_an_execution_id_is_a_response_decode_error(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    router.post("/query/1234/execute").respond(json={"state": "QUERY_STATE_PENDING"})

    with pytest.raises(ResponseDecodeError, match="execution_id"):
        await dune.execute_query(1234)


async def test_rows_that_do_not_fit_the_row_type_are_one_request_and_a_validation_error(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    body = payload("results_completed.json")
    body["result"]["rows"][3]["ct"] = "2.137508e+06"
    route = router.get(RESULTS).respond(json=body)

    with pytest.raises(ResponseValidationError, match=r"\$\.result\.rows\[3\]\.ct"):
        await dune.results(EXECUTION_ID, row_type=TableCount).page()

    assert route.call_count == 1


async def test_a_pipeline_status_with_unknown_fields_and_kinds_decodes(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    router.get("/pipelines/executions/P1/status").respond(
        json={
            "status": "some_new_status",
            "started_at": "2024-12-20T11:04:18Z",
            "node_executions": [
                {"id": 1, "notebook_run_status": {"status": "completed"}},
                {
                    "id": 2,
                    "query_execution_status": {"status": "pending", "queue_position": 4},
                },
            ],
        }
    )

    status = await dune.get_pipeline_status("P1")

    unknown, pending = status.node_executions
    assert unknown.kind == "unknown"
    assert pending.kind == "query"
    assert pending.status == "pending"
    assert not pending.is_finished


async def test_csv_next_offset_that_is_not_a_number_is_ignored(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    router.get(f"{RESULTS}/csv").respond(content=b"a\n1\n", headers={"x-dune-next-offset": "soon"})

    page = await dune.get_execution_results_csv(EXECUTION_ID)

    assert page.next_offset is None
    assert page.data == b"a\n1\n"


async def test_a_get_whose_json_body_is_cut_short_is_retried(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    route = router.get(STATUS).mock(
        side_effect=[
            httpx.Response(200, content=b'{"execution_id": "01GBM4W2N0NMCGPZYW8AYK4YF1", "st'),
            httpx.Response(200, json=payload("status_completed.json")),
        ]
    )

    status = await dune.get_execution_status(EXECUTION_ID)

    assert status.is_finished
    assert route.call_count == 2
