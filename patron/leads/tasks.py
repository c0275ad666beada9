"""Leads tasks. Thin: ids in, one service call, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from patron.core.jobs import job_claim, job_fail, job_finish
from patron.leads.never_lost import ROUTE_LEAD_TASK, never_lost_sweep, route_lead
from patron.leads.policy_services import RESCORE_TASK, lead_settings
from patron.leads.scoring import leads_rescore, score_model_refit
from patron.leads.scoring_model import refit_due

SWEEP_TASK = "leads.never_lost_sweep"
REFIT_TASK = "leads.refit_score_model"
REFIT_JOB_TASK = "leads.refit_score_model_job"
REFIT_JOB_KIND = "leads.score_model_refit"


@shared_task(name=ROUTE_LEAD_TASK)
def route_new_lead(lead_id: int) -> None:
    """Route lead ``lead_id`` if it has no owner or queue from routing yet."""
    route_lead(lead_id=lead_id)


@shared_task(name=SWEEP_TASK)
def sweep() -> None:
    """Every minute: route what is still unrouted, alert and reassign missed deadlines."""
    never_lost_sweep()


@shared_task(name=RESCORE_TASK)
def rescore_leads() -> None:
    """Rescore every open lead after the scoring rules changed."""
    leads_rescore()


@shared_task(name=REFIT_TASK)
def refit_score_model() -> None:
    """Daily: learn the score model again when it is older than the settings allow."""
    if refit_due(refit_days=lead_settings().model_refit_days):
        score_model_refit()


@shared_task(name=REFIT_JOB_TASK)
def refit_score_model_job(job_id: int) -> None:
    """An administrator's "Refit now", with its outcome shown on the job page."""
    job = job_claim(job_id)
    if job is None:
        return
    try:
        message = score_model_refit(job=job)
    except Exception as exc:
        job_fail(job, error=f"{type(exc).__name__}: {exc}")
        raise
    job_finish(job, result={"message": message}, message=message)
