"""WeChat Pay API v3 (Native QR): client, notification verifier, keys and a simulator.

``client.WeChatPayClient`` is the ``clearing.ports.Acquirer`` for WeChat Pay;
``notify.NotifyVerifier`` checks inbound notifications; ``simulator`` stands in for WeChat Pay.
"""
