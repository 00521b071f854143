"""The AsyncAPI 3 document of the worker: channels, operations, messages, AMQP 0-9-1 bindings."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from messages.envelope import COMMAND_TYPES, EVENT_CLASSES, Event

ASYNCAPI_VERSION = "3.1.0"
AMQP_BINDING_VERSION = "0.3.0"
CONTENT_TYPE = "application/cloudevents+json"
PREFIX = "dataflow"

COMMANDS_EXCHANGE = f"{PREFIX}.commands"
EVENTS_EXCHANGE = f"{PREFIX}.events"
REQUESTS_QUEUE = f"{PREFIX}.requests"
DEAD_QUEUE = f"{PREFIX}.dead"

ROUTING_KEYS: dict[str, str] = {
    "DataflowRequested": f"{PREFIX}.requested",
    "DataflowDeletionRequested": f"{PREFIX}.deletion_requested",
    "StepCompleted": f"{PREFIX}.step_completed",
    "DataflowCreated": f"{PREFIX}.created",
    "DataflowUpdated": f"{PREFIX}.updated",
    "DataflowDeleted": f"{PREFIX}.deleted",
    "DataflowFailed": f"{PREFIX}.failed",
    "DataflowRunCompleted": f"{PREFIX}.run_completed",
}
"""The routing key each type is published with (contract section 3)."""

_CHANNEL_IDS: dict[str, str] = {
    "StepCompleted": "stepCompleted",
    "DataflowCreated": "dataflowCreated",
    "DataflowUpdated": "dataflowUpdated",
    "DataflowDeleted": "dataflowDeleted",
    "DataflowFailed": "dataflowFailed",
    "DataflowRunCompleted": "dataflowRunCompleted",
}

_DESCRIPTION = (
    "dataflow-worker consumes DataflowRequested commands and creates one Adobe Experience "
    "Platform dataflow per request_id, updates it in place for a later revision, and deletes it "
    "for a DataflowDeletionRequested, publishing an event per finished step and one terminal "
    "event per request, revision or deletion. Every message is a CloudEvents 1.0 event in "
    "structured mode (JSON, UTF-8); AMQP properties: content_type "
    "application/cloudevents+json, delivery_mode 2, message_id the event id, type the event "
    "type, correlation_id the request_id. Names use "
    f"the default prefix `{PREFIX}`, which is configurable."
)


def _exchange(name: str) -> dict[str, Any]:
    return {"name": name, "type": "topic", "durable": True, "autoDelete": False, "vhost": "/"}


def _queue(name: str) -> dict[str, Any]:
    return {"name": name, "durable": True, "exclusive": False, "autoDelete": False, "vhost": "/"}


def _messages(names: Sequence[str]) -> dict[str, Any]:
    return {name: {"$ref": f"#/components/messages/{name}"} for name in names}


def _routed(routing_key: str, exchange: str, description: str, message: str) -> dict[str, Any]:
    """A channel that is a routing key on a topic exchange."""
    return {
        "address": routing_key,
        "description": description,
        "messages": _messages([message]),
        "bindings": {
            "amqp": {
                "is": "routingKey",
                "exchange": _exchange(exchange),
                "bindingVersion": AMQP_BINDING_VERSION,
            }
        },
    }


def _queued(queue: str, description: str, messages: Sequence[str]) -> dict[str, Any]:
    """A channel that is a durable queue."""
    return {
        "address": queue,
        "description": description,
        "messages": _messages(messages),
        "bindings": {
            "amqp": {"is": "queue", "queue": _queue(queue), "bindingVersion": AMQP_BINDING_VERSION}
        },
    }


def channels() -> dict[str, Any]:
    """The channels: a routing key per command, the two queues and a routing key per event."""
    keys = " and ".join(ROUTING_KEYS[command] for command in COMMAND_TYPES)
    out: dict[str, Any] = {
        "requested": _routed(
            ROUTING_KEYS["DataflowRequested"],
            COMMANDS_EXCHANGE,
            "Producers publish requests here (with publisher confirms).",
            "DataflowRequested",
        ),
        "deletionRequested": _routed(
            ROUTING_KEYS["DataflowDeletionRequested"],
            COMMANDS_EXCHANGE,
            "Producers publish deletion requests here (with publisher confirms).",
            "DataflowDeletionRequested",
        ),
        "requests": _queued(
            REQUESTS_QUEUE,
            f"Quorum queue bound to {COMMANDS_EXCHANGE} with {keys}; the worker consumes it."
            " Dead-lettered messages go to the parking lot.",
            COMMAND_TYPES,
        ),
        "dead": _queued(
            DEAD_QUEUE,
            "The parking lot: every dead-lettered request, with the reason in its headers.",
            COMMAND_TYPES,
        ),
    }
    for event_type, channel_id in _CHANNEL_IDS.items():
        out[channel_id] = _routed(
            ROUTING_KEYS[event_type],
            EVENTS_EXCHANGE,
            f"{event_type} events; consumers bind their own queues to {EVENTS_EXCHANGE}.",
            event_type,
        )
    return out


def _operation(action: str, channel: str, messages: Sequence[str], summary: str) -> dict[str, Any]:
    binding: dict[str, Any] = (
        {"ack": True} if action == "receive" else {"deliveryMode": 2, "mandatory": False}
    )
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "summary": summary,
        "messages": [{"$ref": f"#/channels/{channel}/messages/{name}"} for name in messages],
        "bindings": {"amqp": {**binding, "bindingVersion": AMQP_BINDING_VERSION}},
    }


def operations() -> dict[str, Any]:
    """What the worker and its commands do: send and receive commands, park some, send events."""
    out = {
        "sendRequest": _operation(
            "send", "requested", ["DataflowRequested"], "Publish a request (`publish`, `onboard`)."
        ),
        "sendDeletionRequest": _operation(
            "send",
            "deletionRequested",
            ["DataflowDeletionRequested"],
            "Publish a deletion request (`delete`).",
        ),
        "receiveRequest": _operation(
            "receive",
            "requests",
            COMMAND_TYPES,
            "Consume one command: create or update its flow, or delete it.",
        ),
        "parkRequest": _operation(
            "send", "dead", COMMAND_TYPES, "Dead-letter a command that cannot finish."
        ),
    }
    for event_type, channel_id in _CHANNEL_IDS.items():
        name = "send" + channel_id[0].upper() + channel_id[1:]
        out[name] = _operation("send", channel_id, [event_type], f"Publish {event_type}.")
    return out


def _summary(event_class: type[Event]) -> str:
    """The first line of the payload model's docstring, without references to the contract."""
    payload = event_class.payload_type
    first = (payload.__doc__ or "").strip().splitlines()[0] if payload else event_class.__name__
    return re.sub(r" \(contract [0-9.]+\)", "", first)


def messages() -> dict[str, Any]:
    """One message per event type: the whole CloudEvent as payload, AMQP type property set."""
    out = {}
    for event_type, event_class in EVENT_CLASSES.items():
        out[event_type] = {
            "name": event_type,
            "title": event_type,
            "summary": _summary(event_class),
            "contentType": CONTENT_TYPE,
            "correlationId": {
                "description": "The request_id, also the CloudEvent subject.",
                "location": "$message.payload#/subject",
            },
            "payload": {"$ref": f"#/components/schemas/{event_class.__name__}"},
            "bindings": {
                "amqp": {"messageType": event_type, "bindingVersion": AMQP_BINDING_VERSION}
            },
        }
    return out


def asyncapi_document(schemas: dict[str, Any]) -> dict[str, Any]:
    """The whole document, given the component schemas of every event model."""
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "dataflow-worker",
            "version": "1.0.0",
            "description": _DESCRIPTION,
            "license": {"name": "Apache-2.0"},
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "local": {
                "host": "localhost:5672",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "RabbitMQ (the broker URL is configuration).",
            }
        },
        "channels": channels(),
        "operations": operations(),
        "components": {"messages": messages(), "schemas": schemas},
    }
