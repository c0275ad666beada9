"""Sales analytics for a user whose role may see no opportunity at all (issue 8, permission
matrix): every report is empty, never a server error."""

from __future__ import annotations

import pytest
from django.urls import reverse

from patron.pipeline.analytics import REPORTS

pytestmark = pytest.mark.django_db


def test_a_user_who_may_see_no_opportunity_gets_empty_reports_not_an_error(client, rep, stages):
    # The sales roles of the root conftest have no permission on opportunities.
    client.force_login(rep)
    assert client.get(reverse("pipeline:sales_analytics")).status_code == 200
    for report in REPORTS:
        csv = client.get(reverse("pipeline:sales_analytics_csv", kwargs={"report": report}))
        assert csv.status_code == 200, report
        api = client.get(f"/api/v1/analytics/sales/{report}")
        assert api.status_code == 200, (report, api.content)
