"""SNS pages: topics (create, delete), a topic's attributes and subscriptions (subscribe,
unsubscribe), and a publish form."""

from __future__ import annotations

from nimbus.console.web import ConsoleRequest, Done, Page, get, post, url

PROTOCOLS = ("sqs", "http", "https")  # the ones Nimbus delivers to


def topics(ctx: ConsoleRequest) -> Page:
    found, following = ctx.one_page(ctx.client("sns").list_topics, "Topics", "NextToken")
    return Page("sns_topics.html", {"topics": found, "next": following}, title="SNS topics")


def create_topic(ctx: ConsoleRequest) -> Done:
    name = ctx.field("name").strip()
    attributes = {"FifoTopic": "true"} if name.endswith(".fifo") else {}
    arn = ctx.client("sns").create_topic(Name=name, Attributes=attributes)["TopicArn"]
    return Done(url("/sns/topic", arn=arn), f"Topic {name} created.", {"TopicArn": arn})


def delete_topic(ctx: ConsoleRequest) -> Done:
    arn = ctx.field("arn")
    ctx.client("sns").delete_topic(TopicArn=arn)
    return Done(url("/sns"), f"Topic {arn} deleted.")


def topic(ctx: ConsoleRequest, published: str = "") -> Page:
    arn = ctx.query("arn") or ctx.field("arn")
    sns = ctx.client("sns")
    attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    subscriptions, following = ctx.one_page(
        sns.list_subscriptions_by_topic, "Subscriptions", "NextToken", TopicArn=arn
    )
    data = {
        "arn": arn,
        "attributes": attributes,
        "subscriptions": subscriptions,
        "next": following,
        "protocols": PROTOCOLS,
    }
    return Page("sns_topic.html", data, title=arn.rsplit(":", 1)[-1])


def publish(ctx: ConsoleRequest) -> Done:
    arn = ctx.field("arn")
    message: dict[str, str] = {"TopicArn": arn, "Message": ctx.field("message")}
    if ctx.field("subject").strip():
        message["Subject"] = ctx.field("subject").strip()
    if arn.endswith(".fifo"):
        message["MessageGroupId"] = ctx.field("group") or "console"
    sent = ctx.client("sns").publish(**message)
    return Done(
        url("/sns/topic", arn=arn),
        f"Published message {sent['MessageId']}.",
        {"MessageId": sent["MessageId"]},
    )


def subscribe(ctx: ConsoleRequest) -> Done:
    arn = ctx.field("arn")
    subscribed = ctx.client("sns").subscribe(
        TopicArn=arn,
        Protocol=ctx.field("protocol"),
        Endpoint=ctx.field("endpoint").strip(),
        ReturnSubscriptionArn=True,
    )
    return Done(url("/sns/topic", arn=arn), f"Subscribed: {subscribed['SubscriptionArn']}.")


def unsubscribe(ctx: ConsoleRequest) -> Done:
    ctx.client("sns").unsubscribe(SubscriptionArn=ctx.field("subscription"))
    return Done(url("/sns/topic", arn=ctx.field("arn")), "Unsubscribed.")


ROUTES = [
    get("/sns", topics),
    post("/sns/create", create_topic),
    get("/sns/topic", topic),
    post("/sns/topic/delete", delete_topic),
    post("/sns/topic/publish", publish),
    post("/sns/topic/subscribe", subscribe),
    post("/sns/topic/unsubscribe", unsubscribe),
]
