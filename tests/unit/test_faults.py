"""tests/faults.py: injected DynamoDB faults reach the code the way AWS's own errors do."""

from __future__ import annotations

import threading

import botocore.exceptions
import pytest
from pynamodb.exceptions import GetError, PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from portal_accounts import clock
from portal_accounts.clients import dynamodb
from portal_accounts.models import AuditEventModel, CustomerModel
from tests import faults


def _customer(customer_id: str = "c-1") -> CustomerModel:
    now = clock.now()
    return CustomerModel(
        customer_id=customer_id,
        first_name="Mario",
        last_name="Rossi",
        created_at=now,
        updated_at=now,
    )


def _exists(customer_id: str) -> bool:
    return CustomerModel.count(customer_id) > 0


@pytest.mark.parametrize("code", [*faults.THROTTLING, *faults.SERVER])
def test_a_faulted_write_raises_the_aws_error_and_writes_nothing(clean_aws, code):
    with faults.failing("PutItem", code=code) as fault, pytest.raises(PutError) as raised:
        _customer().save()
    assert raised.value.cause_response_code == code
    assert isinstance(raised.value.cause, botocore.exceptions.ClientError)
    assert fault.injected == 1
    assert not _exists("c-1")


def test_times_then_calls_pass_again(clean_aws):
    with faults.failing("PutItem", times=2) as fault:
        for _ in range(2):
            with pytest.raises(PutError):
                _customer().save()
        _customer().save()
    assert (fault.seen, fault.injected) == (3, 2)
    assert _exists("c-1")


def test_times_none_fails_until_the_block_ends(clean_aws):
    with faults.failing("PutItem", times=None) as fault:
        for _ in range(5):
            with pytest.raises(PutError):
                _customer().save()
    assert fault.injected == 5
    _customer().save()  # the block is over
    assert _exists("c-1")


def test_skip_fails_the_nth_matching_call_only(clean_aws):
    with faults.failing(faults.WRITES, skip=1) as fault:
        _customer("c-1").save()
        with pytest.raises(PutError):
            _customer("c-2").save()
        _customer("c-3").save()
    assert fault.injected == 1
    assert [_exists(c) for c in ("c-1", "c-2", "c-3")] == [True, False, True]


def test_reads_and_other_tables_are_left_alone(clean_aws):
    with faults.failing(faults.WRITES, table=AuditEventModel.Meta.table_name) as fault:
        _customer().save()  # another table
        assert _exists("c-1")  # a read
    assert fault.injected == 0


@pytest.mark.parametrize("code", faults.TRANSACTION_REASONS)
def test_a_transaction_is_cancelled_with_the_reason_on_its_first_part(clean_aws, code):
    with (
        faults.failing("TransactWriteItems", code=code),
        pytest.raises(TransactWriteError) as raised,
        TransactWrite(connection=dynamodb()) as tx,
    ):
        tx.save(_customer("c-1"))
        tx.save(_customer("c-2"))
    assert raised.value.cause_response_code == "TransactionCanceledException"
    reasons = raised.value.cancellation_reasons
    assert [reason and reason.code for reason in reasons] == [code, None]
    assert not _exists("c-1") and not _exists("c-2")


def test_a_conflict_on_a_single_item_call_is_transaction_conflict_exception(clean_aws):
    with faults.failing("PutItem", code="TransactionConflict"), pytest.raises(PutError) as raised:
        _customer().save()
    assert raised.value.cause_response_code == "TransactionConflictException"


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("ReadTimeout", botocore.exceptions.ReadTimeoutError),
        ("ConnectTimeout", botocore.exceptions.ConnectTimeoutError),
        ("EndpointConnectionError", botocore.exceptions.EndpointConnectionError),
    ],
)
def test_timeouts_raise_botocores_network_errors(clean_aws, code, error):
    with faults.failing("GetItem", code=code), pytest.raises(GetError) as raised:
        CustomerModel.get("c-1")
    assert isinstance(raised.value.cause, error)


def test_an_unknown_code_is_refused():
    with pytest.raises(ValueError), faults.failing("PutItem", code="Oops"):
        pass


def test_clients_of_other_threads_see_the_fault_against_the_moto_server(moto_server):
    outcomes: list[str] = []

    def save() -> None:
        try:
            _customer().save()
            outcomes.append("saved")
        except PutError as error:
            outcomes.append(str(error.cause_response_code))

    with faults.failing("PutItem", code="ThrottlingException"):
        thread = threading.Thread(target=save)
        thread.start()
        thread.join()
    assert outcomes == ["ThrottlingException"]
    assert not _exists("c-1")
