"""Tencent Cloud SMS (短信 SendSms, API 2021-01-11, TC3-HMAC-SHA256): the client that sends a
payment notice's link, and a simulator of the provider (``tongjiao sim sms``)."""
