"""Request and response bodies of /api/v1/admin/webhooks: the case system's subscriptions."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from clearing.api.models import _In

EventType = Literal[
    "order.paid", "order.settled", "order.refunded", "order.cancelled", "order.expired"
]
DeliveryState = Literal["PENDING", "WAITING", "DELIVERED", "DEAD"]


class SubscriptionIn(_In):
    name: str = Field(
        min_length=1, max_length=100, description="who listens, e.g. 不动产登记业务系统"
    )
    url: str = Field(
        pattern=r"^https?://[^\s]+$",
        max_length=500,
        description="where events are POSTed (HTTPS in production)",
    )
    event_types: list[EventType] = Field(min_length=1, max_length=5)


class SubscriptionOut(BaseModel):
    id: int
    name: str
    url: str
    event_types: list[str]
    event_types_zh: list[str]
    active: bool
    secrets_active: int = Field(description="2 while a rotated-out secret still signs")
    created_by: str
    created_at: str
    pending: int = Field(description="deliveries on their way (PENDING or WAITING)")
    dead: int = Field(description="dead letters")


class SubscriptionList(BaseModel):
    subscriptions: list[SubscriptionOut]


class SubscriptionSecret(BaseModel):
    subscription: SubscriptionOut
    secret: str = Field(description="the signing secret, shown once: give it to the receiver")


class DeliveryOut(BaseModel):
    id: int
    event_id: str
    type: str
    type_zh: str
    order_no: str
    case_no: str
    subscription_id: int
    subscription: str
    state: DeliveryState
    state_zh: str
    attempts: int
    last_status: int | None
    last_error: str | None
    occurred_at: str
    last_attempt_at: str
    next_attempt_at: str
    delivered_at: str


class DeliveryList(BaseModel):
    deliveries: list[DeliveryOut]


class ResendOut(BaseModel):
    id: int
    event_id: str
    state: str
    state_zh: str
