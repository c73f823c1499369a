"""Build the message use cases from a function's settings (once per warm instance)."""

from __future__ import annotations

from loyalty.messages.settings import MessageLogSettings, MessageSettings, SendingSettings


def store_from_settings(settings: MessageLogSettings):
    import boto3

    from loyalty.messages.store import MessageStore
    from loyalty.settings import aws_client_config

    dynamodb = boto3.client("dynamodb", region_name=settings.aws_region, config=aws_client_config(),
                            endpoint_url=settings.aws_endpoint_url_dynamodb)
    return MessageStore(dynamodb, settings.messages_table, settings.members_table)


def tokens_from_settings(settings: MessageSettings):
    from loyalty.messages.unsubscribe import UnsubscribeTokens

    return UnsubscribeTokens(settings.unsubscribe_key, settings.unsubscribe_key_parameter, settings.aws_region)


def sending_from_settings(settings: SendingSettings, clock, mail_sender=None):
    """`mail_sender`: what the platform sends with (the local outbox); None: SES v2."""
    from loyalty.messages.templates import demo_templates
    from loyalty.messages.use_cases import Sending
    from loyalty.programs.store import cached_programs

    if mail_sender is None:
        import boto3

        from loyalty.messages.mail import SesMailer
        from loyalty.settings import aws_client_config

        mail_sender = SesMailer(boto3.client("sesv2", region_name=settings.aws_region, config=aws_client_config()),
                                settings.ses_identity_arn)
    return Sending(
        store=store_from_settings(settings), clock=clock, send=mail_sender, tokens=tokens_from_settings(settings),
        templates=demo_templates(), programs=cached_programs(settings.program_versions(), clock)[1],
        sender=settings.message_sender, api_url=settings.public_api_url, configuration_set=settings.ses_configuration_set)
