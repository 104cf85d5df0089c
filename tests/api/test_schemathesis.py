"""Generated requests against the OpenAPI document (schemathesis, a bounded number of examples per operation, over
real HTTP): no answer is a 5xx, and every answer matches the document's own description of it.

One check is left out: that every schema-valid request is accepted. Rules the document cannot state — a type code
must be in the catalogue, a call needs coordinates or an address, a step must be legal in the order's state — refuse
such requests with a 422 or 409 that says why, as they should."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.specs.openapi.checks import positive_data_acceptance
from tests.api.builders import serving
from tests.conftest import auth_headers

from precinct.platform.config import Settings
from precinct.platform.db import Database
from precinct.web.app import create_app

EXAMPLES_PER_OPERATION = 8


def test_generated_requests_get_answers_the_document_describes(settings: Settings, db: Database) -> None:
    headers = auth_headers(db, settings)  # the city's duty commander: most routes let them in
    with serving(create_app(settings)) as base_url:
        schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) > 20
        for operation in operations:

            @given(case=operation.as_strategy())
            @hypothesis_settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
                database=None,
            )
            def answers_as_documented(case: schemathesis.Case) -> None:
                case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

            answers_as_documented()
