"""UnionPay online QR (ACP 5.1.0): client, notification parser, clearing-file reader, keys and a
simulator.

``client.UnionPayClient`` is the ``clearing.ports`` QR and payment-code acquirer for UnionPay;
``notify.UnionPayNotifyParser`` checks back notifications; ``bill`` reads the ZM clearing file;
``simulator`` stands in for UnionPay (``tongjiao sim unionpay``).
"""
