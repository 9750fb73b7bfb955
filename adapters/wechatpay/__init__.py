"""WeChat Pay API v3: client, notification verifier, bill parser, keys and a simulator.

``client.WeChatPayClient`` is the ``clearing.ports`` Acquirer for WeChat Pay (Native QR and payment
codes); ``notify.NotifyVerifier`` checks inbound notifications; ``bill`` reads the daily trade
bill; ``simulator`` stands in for WeChat Pay.
"""
