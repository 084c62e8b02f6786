"""Subscriptions: /subscriptions[/{subscriptionId}] — create, list, retrieve, update, delete (5.8, 6.10-6.11)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote

from aiohttp import web

from broker.api.http import (
    API_BASE,
    check_params,
    created,
    json_response,
    no_content,
    read_json,
    utc_now,
)
from broker.api.request import RequestContext, body_context, request_context
from broker.ngsild.errors import InvalidRequest, OperationNotSupported
from broker.ngsild.media import JSON, JSON_LD, negotiate, request_media_type
from broker.ngsild.names import require_entity_id
from broker.ngsild.pagination import pagination_links
from broker.ngsild.query import parse_pagination
from broker.ngsild.subscription import apply_subscription_patch, parse_subscription
from broker.ngsild.subscription_render import render_subscription
from broker.store.subscriptions import SubscriptionStore

SUBSCRIPTIONS_PATH = f"{API_BASE}/subscriptions"


def _store(ctx: RequestContext) -> SubscriptionStore:
    return SubscriptionStore(ctx.db)


def _path_id(request: web.Request) -> str:
    return require_entity_id(request.match_info["subscriptionId"], "subscriptionId in the URL path")


def _schedule(subscription: dict[str, Any]) -> None:
    """Periodic subscriptions notify every timeInterval seconds, the first time one interval from now."""
    interval = subscription.get("timeInterval")
    if interval:
        subscription["nextPeriodicAt"] = utc_now() + timedelta(seconds=float(interval))
    else:
        subscription.pop("nextPeriodicAt", None)


async def _check_notification_context(ctx: RequestContext, subscription: dict[str, Any]) -> None:
    """A jsonldContext must be retrievable and valid now, not at the first notification (5.8.1)."""
    if subscription.get("jsonldContext"):
        await ctx.services.contexts.term_map(subscription["jsonldContext"], ctx.tenant)


def _check_wide_area(ctx: RequestContext, subscription: dict[str, Any]) -> None:
    """The wide-area tenant is notified of other tenants' changes; it holds no entities to report periodically."""
    if ctx.wide_area and subscription.get("timeInterval"):
        raise OperationNotSupported(f"Tenant '{ctx.tenant}' is the wide-area tenant: its subscriptions are notified "
                                    "of changes (watchedAttributes, notificationTrigger), never periodically "
                                    "(timeInterval)")


async def _body(request: web.Request, *, create: bool) -> tuple[Any, RequestContext]:
    media = request_media_type(request.headers.get("Content-Type"), merge_patch=not create)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise InvalidRequest(f"The subscription must be a JSON object, got a JSON {type(body).__name__}")
    ctx = await request_context(request, context=body_context(body, media, request), from_link=False,
                                create=create)
    return {key: value for key, value in body.items() if key != "@context"}, ctx


async def create_subscription(request: web.Request) -> web.Response:
    """POST /subscriptions — 5.8.1: 201 + Location; 409 if the id exists."""
    check_params(request, ())
    body, ctx = await _body(request, create=True)
    request_context_value = ctx.context if ctx.context != ctx.services.contexts.core_url else None
    subscription = parse_subscription(body, ctx.terms, now=utc_now(), context=request_context_value)
    await _check_notification_context(ctx, subscription)
    _check_wide_area(ctx, subscription)
    _schedule(subscription)
    await ctx.require_subscription_room()
    await ctx.register_tenant()
    store = _store(ctx)
    await store.ensure_indexes()
    await ctx.services.dispatcher.notifying.mark(ctx.tenant)  # before the store: polled from now on
    await store.create(subscription)
    ctx.services.subscriptions.invalidate(ctx.tenant)
    return created(f"{SUBSCRIPTIONS_PATH}/{quote(subscription['id'], safe=':/')}")


async def list_subscriptions(request: web.Request) -> web.Response:
    """GET /subscriptions — 5.8.4: a page of subscriptions, with count and pagination links."""
    media = negotiate(request.headers.get("Accept"), (JSON, JSON_LD))
    check_params(request, ("limit", "offset", "count", "options"))
    ctx = await request_context(request)
    settings = ctx.services.settings
    limit, offset, count = parse_pagination(request.query, default_limit=settings.default_limit,
                                            max_limit=settings.max_limit)
    sys_attrs = _sys_attrs(request)
    items, total = await _store(ctx).page(limit=limit, offset=offset)
    now = utc_now()
    body = [render_subscription(item, ctx.terms, now=now, sys_attrs=sys_attrs) for item in items]
    headers = {"NGSILD-Results-Count": str(total)} if count else {}
    links = pagination_links(SUBSCRIPTIONS_PATH, dict(request.query), offset=offset, limit=limit,
                             has_next=offset + limit < total, media=media)
    return json_response(body, media=media, context=ctx.context, headers=headers, links=links)


async def retrieve_subscription(request: web.Request) -> web.Response:
    """GET /subscriptions/{id} — 5.8.3."""
    media = negotiate(request.headers.get("Accept"), (JSON, JSON_LD))
    check_params(request, ("options",))
    subscription_id = _path_id(request)
    ctx = await request_context(request)
    subscription = await _store(ctx).get(subscription_id)
    body = render_subscription(subscription, ctx.terms, now=utc_now(), sys_attrs=_sys_attrs(request))
    return json_response(body, media=media, context=ctx.context)


async def update_subscription(request: web.Request) -> web.Response:
    """PATCH /subscriptions/{id} — 5.8.2: merge the fragment, re-validate, 204."""
    check_params(request, ())
    subscription_id = _path_id(request)
    body, ctx = await _body(request, create=False)
    store = _store(ctx)
    previous = await store.get(subscription_id)
    request_context_value = ctx.context if ctx.context != ctx.services.contexts.core_url else None
    subscription = apply_subscription_patch(previous, body, ctx.terms, now=utc_now(), context=request_context_value)
    await _check_notification_context(ctx, subscription)
    _check_wide_area(ctx, subscription)
    if subscription.get("timeInterval") != previous.get("timeInterval"):
        _schedule(subscription)
    await store.replace(previous, subscription)
    ctx.services.subscriptions.invalidate(ctx.tenant)
    return no_content()


async def delete_subscription(request: web.Request) -> web.Response:
    """DELETE /subscriptions/{id} — 5.8.5."""
    check_params(request, ())
    subscription_id = _path_id(request)
    ctx = await request_context(request)
    await _store(ctx).delete(subscription_id)
    ctx.services.subscriptions.invalidate(ctx.tenant)
    return no_content()


def _sys_attrs(request: web.Request) -> bool:
    options = request.query.get("options")
    if options is None:
        return False
    tokens = {token.strip() for token in options.split(",")}
    if not tokens <= {"sysAttrs"}:
        raise InvalidRequest(f"Unknown value(s) in 'options': {', '.join(sorted(tokens - {'sysAttrs'}))}")
    return True


def add_routes(app: web.Application) -> None:
    app.router.add_post(SUBSCRIPTIONS_PATH, create_subscription)
    app.router.add_get(SUBSCRIPTIONS_PATH, list_subscriptions, allow_head=False)
    one = f"{SUBSCRIPTIONS_PATH}/{{subscriptionId}}"
    app.router.add_get(one, retrieve_subscription, allow_head=False)
    app.router.add_patch(one, update_subscription)
    app.router.add_delete(one, delete_subscription)
