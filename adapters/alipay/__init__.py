"""Alipay Open Platform 当面付 (precreate QR and payment code): client, notification parser,
bill parser, keys and a simulator.

``client.AlipayClient`` is the ``clearing.ports.QrAcquirer`` and ``CodeAcquirer`` for Alipay;
``notify.AlipayNotifyParser`` checks inbound notifications; ``bill`` reads the daily trade bill;
``simulator`` stands in for the Alipay gateway.
"""
