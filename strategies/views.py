"""Pages of the Strategies section: list (filters, live P&L, bulk operations, import), create/edit,
one strategy (versions and diff, validation, deployment, live promotion, backtests, optimisation,
live metrics), backtest and optimisation pages.

Views stay thin: every write is a call into ``strategies.services``, ``strategies.deployment``,
``strategies.backtesting`` or ``strategies.optimisation``; a refusal is shown with each problem
named (HTTP 400 for bad input, 409 for the wrong state), never a 500. Viewers read; Traders act;
Admins and Risk Managers decide live promotions.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.generic import TemplateView

from config.api import ApplicationError
from monitoring.pages import SectionPage
from monitoring.roles import Role, has_role
from strategies import deployment, selectors
from strategies.forms import (
    BacktestForm,
    ImportForm,
    OptimisationForm,
    StrategyFilterForm,
    StrategyForm,
)
from strategies.models import Backtest, OptimisationRun, Strategy, StrategyDeployment, StrategyVersion
from strategies.spec import BUILTIN_TYPES, PARAMETERS, ValidationResult, spec_shape_problems


def _error_lines(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [
            m if field in ("__all__", "spec") else f"{field}: {m}"
            for field, msgs in exc.message_dict.items()
            for m in msgs
        ]
    return list(exc.messages)


def _strategy_or_404(pk: int) -> Strategy:
    try:
        return selectors.strategy_detail(pk=pk)
    except Strategy.DoesNotExist:
        raise Http404("No such strategy.") from None


# ---------------------------------------------------------------------------
# List, bulk operations, import
# ---------------------------------------------------------------------------


class StrategyListView(SectionPage, TemplateView):
    template_name = "strategies/strategy_list.html"
    required_role = Role.VIEWER
    write_role = Role.TRADER
    fragments = ("rows",)
    filter_form = "form"

    def post(self, request, *args, **kwargs):
        """Bulk operations: one result row per selected strategy."""
        action = request.POST.get("action", "")
        try:
            ids = [int(v) for v in request.POST.getlist("strategies")]
        except ValueError:
            ids = None
        errors: list[str] = []
        results: list[dict] = []
        if ids is None:
            errors.append("strategies: the selection holds an invalid id")
        else:
            try:
                results = deployment.strategies_bulk(action=action, strategy_ids=ids, user=request.user, via="web")
            except ValidationError as exc:
                errors = _error_lines(exc)
        ctx = self.get_context_data(bulk_results=results, bulk_errors=errors, bulk_action=action)
        return self.render_to_response(ctx, status=400 if errors else 200)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        form = StrategyFilterForm(self.request.GET)
        if form.is_valid():
            status = form.cleaned_data["status"]
            strategies = list(
                selectors.strategy_list(
                    status=status,
                    include_deleted=status == Strategy.Status.DELETED,
                    strategy_type=form.cleaned_data["strategy_type"],
                    q=form.cleaned_data["q"],
                )
            )
        else:
            strategies = []
        metrics = selectors.strategy_live_metrics([s.pk for s in strategies])
        nodes = deployment.node_strategy_states()
        rows = [{"s": s, "m": metrics[s.pk], "node": nodes.get(s.order_id_tag)} for s in strategies]
        active = [r for r in rows if r["s"].status in ("simulation", "live", "paused")]
        ctx.update(
            form=form,
            rows=rows,
            active_rows=active,
            counts=selectors.strategy_status_counts(),
            import_form=kwargs.get("import_form") or ImportForm(),
            can_trade=has_role(self.request.user, Role.TRADER),
        )
        return ctx


class StrategyImportView(StrategyListView):
    """POST a spec file: validated in full; a bad file names each problem and creates nothing."""

    def post(self, request, *args, **kwargs):
        form = ImportForm(request.POST, request.FILES)
        problems: list[str] = []
        if form.is_valid():
            strategy, result = deployment.strategy_import(
                raw=form.cleaned_data["file"].read(), user=request.user, via="web"
            )
            if strategy is not None:
                messages.success(request, f"Imported {strategy.name} (v1, {strategy.get_status_display().lower()}).")
                return HttpResponseRedirect(reverse("strategy-detail", args=[strategy.pk]))
            problems = result.messages()
        ctx = self.get_context_data(import_form=form, import_problems=problems)
        return self.render_to_response(ctx, status=400)


# ---------------------------------------------------------------------------
# Create / edit
# ---------------------------------------------------------------------------


class StrategyFormView(SectionPage, TemplateView):
    """Create (``pk`` absent) or edit (a new version). ``action=validate`` checks the form's spec
    against every rule without saving; ``action=save`` saves when the spec's shape is valid."""

    template_name = "strategies/strategy_form.html"
    required_role = Role.TRADER

    def strategy(self) -> Strategy | None:
        pk = self.kwargs.get("pk")
        if pk is None:
            return None
        strategy = _strategy_or_404(pk)
        if strategy.status == Strategy.Status.DELETED:
            raise Http404("The strategy is deleted.")
        return strategy

    def get(self, request, *args, **kwargs):
        strategy = self.strategy()
        if strategy is not None and strategy.current_version:
            form = StrategyForm(initial=StrategyForm.initial_from_spec(strategy.current_version.spec, strategy))
        else:
            form = StrategyForm(
                initial={"strategy_type": "mean_reversion", "account": "SIM-001", "bar_spec": "1-MINUTE-MID"}
            )
        return self.render_to_response(self.get_context_data(form=form, strategy=strategy))

    def post(self, request, *args, **kwargs):
        from strategies.services import strategy_create, strategy_update
        from strategies.translation import spec_validate
        from trading.models import Account

        strategy = self.strategy()
        form = StrategyForm(request.POST)
        validation: ValidationResult | None = None
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form, strategy=strategy), status=400)
        spec = form.spec()
        if request.POST.get("action") == "validate":
            try:
                validation = spec_validate(spec, strategy_id=strategy.pk if strategy else None)
            except Exception as exc:  # a custom import can raise anything: report it
                validation = ValidationResult()
                validation.add("", f"the engine could not check this spec: {type(exc).__name__}: {exc}")
            return self.render_to_response(
                self.get_context_data(form=form, strategy=strategy, validation=validation, checked_spec=spec)
            )
        shape = spec_shape_problems(spec)
        if not shape.ok:
            form.add_problems(shape)
            return self.render_to_response(self.get_context_data(form=form, strategy=strategy), status=400)
        account = Account.objects.filter(name=spec["account"]).first()
        try:
            if strategy is None:
                strategy = strategy_create(
                    name=spec["name"],
                    strategy_type=spec["type"],
                    spec=spec,
                    account=account,
                    user=request.user,
                    note=form.cleaned_data.get("note") or "Created",
                    via="web",
                )
                messages.success(request, f"Created {strategy.name} (v1). Validate it, then deploy it to simulation.")
            else:
                if spec["type"] != strategy.strategy_type:
                    raise ValidationError({"strategy_type": "The type of an existing strategy cannot change."})
                before = strategy.current_version_id
                strategy = strategy_update(
                    strategy=strategy,
                    user=request.user,
                    name=spec["name"],
                    account=account,
                    spec=spec,
                    note=form.cleaned_data.get("note") or "",
                    via="web",
                )
                if strategy.current_version_id == before:
                    messages.info(request, "Nothing changed; no new version.")
                else:
                    messages.success(request, f"Saved v{strategy.current_version.number} of {strategy.name}.")
        except ValidationError as exc:
            for field, msgs in (exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}).items():
                target = {"strategy_type": "strategy_type", "name": "name", "account": "account"}.get(field)
                for message in msgs:
                    form.add_error(target, message)
            return self.render_to_response(self.get_context_data(form=form, strategy=strategy), status=400)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
            return self.render_to_response(self.get_context_data(form=form, strategy=strategy), status=exc.status_code)
        return HttpResponseRedirect(reverse("strategy-detail", args=[strategy.pk]))

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["param_types"] = {t: [p.name for p in PARAMETERS[t]] for t in BUILTIN_TYPES}
        return ctx


# ---------------------------------------------------------------------------
# One strategy
# ---------------------------------------------------------------------------


class StrategyDetailView(SectionPage, TemplateView):
    template_name = "strategies/strategy_detail.html"
    required_role = Role.VIEWER
    fragments = ("live", "backtests", "optimisations", "status")

    def get_context_data(self, **kwargs):
        from portfolio.selectors import position_list
        from trading.selectors import order_list

        ctx = super().get_context_data(**kwargs)
        strategy = kwargs.get("strategy") or _strategy_or_404(kwargs["pk"])
        versions = list(strategy.versions.all())
        numbers = [v.number for v in versions]
        diff = None
        a, b = self.request.GET.get("a"), self.request.GET.get("b")
        if a and b:
            by_number = {str(v.number): v for v in versions}
            if a in by_number and b in by_number:
                diff = {
                    "a": by_number[a],
                    "b": by_number[b],
                    "rows": deployment.spec_diff(by_number[a].spec, by_number[b].spec),
                }
        metrics = selectors.strategy_live_metrics([strategy.pk])[strategy.pk]
        deployments = list(selectors.strategy_deployments(strategy))
        active = next((d for d in deployments if d.target == "simulation" and d.state == "active"), None)
        pending = [d for d in deployments if d.state == StrategyDeployment.State.PENDING_APPROVAL]
        can_trade = has_role(self.request.user, Role.TRADER)
        ctx.update(
            strategy=strategy,
            versions=versions,
            version_numbers=numbers,
            diff=diff,
            metrics=metrics,
            node=deployment.node_strategy_states().get(strategy.order_id_tag),
            orders=order_list(strategy=strategy)[:20],
            positions=position_list().filter(strategy=strategy),
            deployments=deployments,
            active_deployment=active,
            pending_live=pending,
            backtests=list(selectors.strategy_backtests(strategy)),
            optimisations=list(selectors.strategy_optimisations(strategy)),
            can_trade=can_trade,
            can_decide=has_role(self.request.user, Role.RISK_MANAGER),
            gate_checks=kwargs.get("gate_checks"),
            backtest_form=kwargs.get("backtest_form") or _backtest_form(strategy),
            optimisation_form=kwargs.get("optimisation_form") or _optimisation_form(strategy),
            current_spec_json=json.dumps(strategy.current_version.spec, indent=2) if strategy.current_version else "",
            transitions={action: strategy.status in sources for action, (sources, _) in deployment.TRANSITIONS.items()},
        )
        return ctx


def _backtest_defaults(strategy: Strategy) -> dict[str, Any]:
    from datetime import timedelta

    from django.utils import timezone

    end = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    balance = format(strategy.account.starting_balance.normalize(), "f") if strategy.account else "1000000"
    version = strategy.current_version.number if strategy.current_version else None
    return {
        "version": version,
        "start": (end - timedelta(days=3)).date(),
        "end": end.date(),
        "starting_balance": balance,
        "seed": 0,
        "prob_fill_on_limit": 1,
        "prob_slippage": 0,
    }


def _backtest_form(strategy: Strategy) -> BacktestForm:
    return BacktestForm(strategy=strategy, initial=_backtest_defaults(strategy), prefix="bt")


def _optimisation_form(strategy: Strategy) -> OptimisationForm:
    initial = _backtest_defaults(strategy)
    spec = strategy.current_version.spec if strategy.current_version else {}
    params = spec.get("parameters") if isinstance(spec.get("parameters"), dict) else {}
    example = {}
    for name, value in list(params.items())[:2]:
        if isinstance(value, int):
            example[name] = {"values": sorted({max(2, value // 2), value})}
    initial["space"] = json.dumps(example or {"name": {"values": []}})
    return OptimisationForm(strategy=strategy, initial=initial, prefix="opt")


class StrategyActionView(StrategyDetailView):
    """POST /strategies/<pk>/<action>/: one state change. Success redirects back with a message;
    a refusal re-renders the page naming each problem (400) or the state conflict (409)."""

    write_role = Role.TRADER
    ACTIONS = ("validate", "deploy", "pause", "resume", "stop", "delete", "live-request", "live-checks", "restore")

    def get(self, request, *args, **kwargs):
        raise Http404("Actions are POSTed.")

    def post(self, request, *args, **kwargs):
        action = kwargs["action"]
        if action not in self.ACTIONS:
            raise Http404("No such action.")
        strategy = _strategy_or_404(kwargs["pk"])
        user = request.user
        extra: dict[str, Any] = {}
        try:
            if action == "validate":
                result = deployment.strategy_validate(strategy=strategy, user=user, via="web")
                strategy = _strategy_or_404(strategy.pk)
                return self.render_to_response(
                    self.get_context_data(pk=strategy.pk, strategy=strategy, validation=result)
                )
            if action == "live-checks":
                extra["gate_checks"] = deployment.live_gate_checks(strategy)
                return self.render_to_response(self.get_context_data(pk=strategy.pk, strategy=strategy, **extra))
            if action == "deploy":
                d = deployment.strategy_deploy(strategy=strategy, user=user, via="web")
                messages.success(request, f"v{d.version.number} deployed to simulation; the node adds it now.")
            elif action == "pause":
                deployment.strategy_pause(strategy=strategy, user=user, via="web")
                messages.success(request, "Paused: its orders are canceled and it is off the node; positions kept.")
            elif action == "resume":
                deployment.strategy_resume(strategy=strategy, user=user, via="web")
                messages.success(request, "Resumed in simulation.")
            elif action == "stop":
                flatten = request.POST.get("flatten") in ("1", "on", "true")
                deployment.strategy_stop(strategy=strategy, user=user, flatten=flatten, via="web")
                messages.success(request, "Stopped and flattening its positions." if flatten else "Stopped.")
            elif action == "delete":
                from strategies.services import strategy_delete

                strategy_delete(strategy=strategy, user=user, via="web")
                messages.success(request, f"Deleted {strategy.name}; its history is kept.")
                return HttpResponseRedirect(reverse("strategy-list"))
            elif action == "live-request":
                deployment.strategy_live_request(strategy=strategy, user=user, via="web")
                messages.success(request, "Live promotion requested; an Admin or Risk Manager must approve it.")
            elif action == "restore":
                try:
                    number = int(request.POST.get("version", ""))
                except ValueError:
                    raise ValidationError({"version": "name the version to restore"}) from None
                restored = deployment.strategy_version_restore(strategy=strategy, number=number, user=user, via="web")
                messages.success(request, f"v{restored.current_version.number} restores the spec of v{number}.")
        except ValidationError as exc:
            return self._refused(strategy, _error_lines(exc), 400, action)
        except ApplicationError as exc:
            return self._refused(strategy, [exc.message], exc.status_code, action)
        except PermissionDenied as exc:
            return self._refused(strategy, [str(exc) or "Your role does not allow this."], 403, action)
        return HttpResponseRedirect(reverse("strategy-detail", args=[strategy.pk]))

    def _refused(self, strategy: Strategy, lines: list[str], status: int, action: str):
        strategy = _strategy_or_404(strategy.pk)
        ctx = self.get_context_data(pk=strategy.pk, strategy=strategy, action_errors=lines, failed_action=action)
        return self.render_to_response(ctx, status=status)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        for key in ("validation", "action_errors", "failed_action"):
            if key in kwargs:
                ctx[key] = kwargs[key]
        return ctx


class LiveDecisionView(StrategyActionView):
    """An Admin or Risk Manager approves or rejects a pending live promotion."""

    write_role = Role.RISK_MANAGER

    def post(self, request, *args, **kwargs):
        pending = get_object_or_404(StrategyDeployment, pk=kwargs["deployment"])
        approve = request.POST.get("decision") == "approve"
        try:
            deployment.strategy_live_decide(
                deployment=pending, user=request.user, approve=approve, reason=request.POST.get("reason", ""), via="web"
            )
        except ValidationError as exc:
            return self._refused(pending.strategy, _error_lines(exc), 400, "live-decide")
        except ApplicationError as exc:
            return self._refused(pending.strategy, [exc.message], exc.status_code, "live-decide")
        messages.success(
            request,
            "Live promotion approved. This desk has no live venue: the strategy keeps running in simulation."
            if approve
            else "Live promotion rejected.",
        )
        return HttpResponseRedirect(reverse("strategy-detail", args=[pending.strategy_id]))


class StrategyExportView(SectionPage, TemplateView):
    required_role = Role.VIEWER

    def get(self, request, *args, **kwargs):
        strategy = _strategy_or_404(kwargs["pk"])
        number = request.GET.get("version")
        version = strategy.current_version
        if number:
            version = (
                StrategyVersion.objects.filter(strategy=strategy, number=number).first() if number.isdigit() else None
            )
            if version is None:
                raise Http404("No such version.")
        if version is None:
            raise Http404("The strategy has no version.")
        response = HttpResponse(deployment.spec_export(version), content_type="application/json")
        slug = "".join(c if c.isalnum() else "-" for c in strategy.name).strip("-").lower() or "strategy"
        response["Content-Disposition"] = f'attachment; filename="{slug}-v{version.number}.json"'
        return response


# ---------------------------------------------------------------------------
# Backtests and optimisation
# ---------------------------------------------------------------------------


class BacktestCreateView(StrategyActionView):
    def post(self, request, *args, **kwargs):
        from strategies.backtesting import backtest_create

        strategy = _strategy_or_404(kwargs["pk"])
        form = BacktestForm(request.POST, strategy=strategy, prefix="bt")
        if not form.is_valid():
            return self._form_refused(strategy, backtest_form=form)
        version = strategy.versions.get(number=form.cleaned_data["version"])
        try:
            backtest = backtest_create(version=version, user=request.user, via="web", **form.settings())
        except ValidationError as exc:
            for line in _error_lines(exc):
                form.add_error(None, line)
            return self._form_refused(strategy, backtest_form=form)
        messages.success(request, f"Backtest #{backtest.pk} queued.")
        return HttpResponseRedirect(reverse("backtest-detail", args=[backtest.pk]))

    def _form_refused(self, strategy: Strategy, **forms_):
        ctx = self.get_context_data(pk=strategy.pk, strategy=strategy, **forms_)
        return self.render_to_response(ctx, status=400)


class OptimisationCreateView(BacktestCreateView):
    def post(self, request, *args, **kwargs):
        from strategies.optimisation import optimisation_create

        strategy = _strategy_or_404(kwargs["pk"])
        form = OptimisationForm(request.POST, strategy=strategy, prefix="opt")
        if not form.is_valid():
            return self._form_refused(strategy, optimisation_form=form)
        d = form.cleaned_data
        version = strategy.versions.get(number=d["version"])
        try:
            run = optimisation_create(
                version=version,
                method=d["method"],
                space=d["space"],
                objective=d["objective"],
                samples=d.get("samples"),
                user=request.user,
                via="web",
                **{k: v for k, v in form.settings().items()},
            )
        except ValidationError as exc:
            for line in _error_lines(exc):
                form.add_error(None, line)
            return self._form_refused(strategy, optimisation_form=form)
        messages.success(request, f"Optimisation #{run.pk} queued: {run.total} trials.")
        return HttpResponseRedirect(reverse("optimisation-detail", args=[run.pk]))


class BacktestDetailView(SectionPage, TemplateView):
    template_name = "strategies/backtest_detail.html"
    required_role = Role.VIEWER
    write_role = Role.TRADER
    fragments = ("results",)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        backtest = get_object_or_404(Backtest.objects.select_related("strategy_version__strategy"), pk=kwargs["pk"])
        ctx.update(
            backtest=backtest,
            strategy=backtest.strategy_version.strategy,
            trades=backtest.trades.all()[:200],
            can_trade=has_role(self.request.user, Role.TRADER),
        )
        return ctx

    def post(self, request, *args, **kwargs):
        from strategies.backtesting import backtest_cancel

        backtest = get_object_or_404(Backtest, pk=kwargs["pk"])
        backtest_cancel(backtest=backtest, user=request.user, via="web")
        messages.success(request, f"Backtest #{backtest.pk}: cancel requested.")
        return HttpResponseRedirect(reverse("backtest-detail", args=[backtest.pk]))


class BacktestCompareView(SectionPage, TemplateView):
    template_name = "strategies/backtest_compare_page.html"
    required_role = Role.VIEWER

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        if response.context_data.get("compare_error"):
            response.status_code = 400
        return response

    def get_context_data(self, **kwargs):
        from strategies.backtesting import backtest_compare

        ctx = super().get_context_data(**kwargs)
        strategy = _strategy_or_404(kwargs["pk"])
        raw = self.request.GET.getlist("ids")
        ids = [int(v) for v in raw if v.isdigit()]
        runs = list(
            Backtest.objects.filter(pk__in=ids, strategy_version__strategy=strategy).select_related("strategy_version")
        )
        runs.sort(key=lambda b: ids.index(b.pk))
        error = "" if len(runs) >= 2 and len(runs) == len(raw) else "Pick at least two backtests of this strategy."
        ctx.update(strategy=strategy, comparison=backtest_compare(runs) if not error else None, compare_error=error)
        return ctx


class PerformanceCompareView(SectionPage, TemplateView):
    """A strategy's simulated run against a backtest of the same spec over the same period: figures and both
    equity curves. ``?deployment=<id>&backtest=<id>`` pick them (by default the active or latest run and the
    backtest covering most of it); an id that is not this strategy's is refused with 400 naming it."""

    template_name = "strategies/performance_compare.html"
    required_role = Role.VIEWER

    def get(self, request, *args, **kwargs):
        from strategies.comparison import comparison_choices, performance_compare_by_ids

        strategy = _strategy_or_404(kwargs["pk"])
        runs, backtests = comparison_choices(strategy)
        ctx = self.get_context_data(strategy=strategy, runs=runs, backtests=backtests, **kwargs)
        try:
            ids = {f"{name}_id": _optional_id(request.GET.get(name, ""), name) for name in ("deployment", "backtest")}
            comparison = performance_compare_by_ids(strategy=strategy, **ids)
        except ValidationError as exc:
            ctx["errors"] = _error_lines(exc)
            return self.render_to_response(ctx, status=400)
        ctx.update(comparison=comparison, chart=comparison.as_dict())
        return self.render_to_response(ctx)


def _optional_id(raw: str, name: str) -> int | None:
    if raw.strip() == "":
        return None
    if not raw.strip().isdigit():
        raise ValidationError({name: f"must be the id of a {name}, got {raw[:40]!r}"})
    return int(raw)


class OptimisationDetailView(SectionPage, TemplateView):
    template_name = "strategies/optimisation_detail.html"
    required_role = Role.VIEWER
    write_role = Role.TRADER
    fragments = ("results",)

    def get(self, request, *args, **kwargs):
        try:
            return super().get(request, *args, **kwargs)
        except ValidationError as exc:
            ctx = {"error": " ".join(_error_lines(exc))}
            run = get_object_or_404(OptimisationRun, pk=kwargs["pk"])
            ctx.update(run=run, strategy=run.strategy_version.strategy, trials=[], metrics=[])
            return self.render_to_response(ctx, status=400)

    def get_context_data(self, **kwargs):
        from strategies.optimisation import optimisation_results
        from strategies.translation import METRICS

        ctx = super().get_context_data(**kwargs)
        run = get_object_or_404(OptimisationRun.objects.select_related("strategy_version__strategy"), pk=kwargs["pk"])
        order_by = self.request.GET.get("order_by") or run.objective
        descending = self.request.GET.get("dir", "desc") != "asc"
        trials = optimisation_results(run=run, order_by=order_by, descending=descending)
        for trial in trials:
            trial.parameters_json = json.dumps(trial.parameters, sort_keys=True)
        ctx.update(
            run=run,
            strategy=run.strategy_version.strategy,
            trials=trials,
            metrics=METRICS,
            order_by=order_by,
            descending=descending,
            can_trade=has_role(self.request.user, Role.TRADER),
            param_names=sorted({k for t in trials for k in t.parameters}),
        )
        return ctx

    def post(self, request, *args, **kwargs):
        from strategies.optimisation import optimisation_cancel, optimisation_promote

        run = get_object_or_404(OptimisationRun.objects.select_related("strategy_version__strategy"), pk=kwargs["pk"])
        if request.POST.get("action") == "cancel":
            optimisation_cancel(run=run, user=request.user, via="web")
            messages.success(request, "Optimisation canceled.")
            return HttpResponseRedirect(reverse("optimisation-detail", args=[run.pk]))
        try:
            try:
                params = json.loads(request.POST.get("params", ""))
            except json.JSONDecodeError:
                raise ValidationError({"params": "not valid JSON"}) from None
            strategy = optimisation_promote(run=run, params=params, user=request.user, via="web")
        except ValidationError as exc:
            ctx = self.get_context_data(pk=run.pk)
            ctx["error"] = " ".join(_error_lines(exc))
            return self.render_to_response(ctx, status=400)
        except ApplicationError as exc:
            ctx = self.get_context_data(pk=run.pk)
            ctx["error"] = exc.message
            return self.render_to_response(ctx, status=exc.status_code)
        messages.success(request, f"Promoted to v{strategy.current_version.number} of {strategy.name}.")
        return HttpResponseRedirect(reverse("strategy-detail", args=[strategy.pk]))
