"""The fiscal non-tax system (非税收入系统): payment codes, payment confirmations, fiscal e-bills.

``client.FiscalClient`` is the ``clearing.ports.Authority`` named ``fiscal``: it looks up what a
non-tax payment code (缴款码) owes — 土地出让金 or 不动产登记费 — confirms each paid leg (message
5996, answered by 8001 with the 财政电子票据) and lists a day's confirmations. ``codes`` validates
payment codes per region and reads e-bill numbers; ``frame`` is the CNNONTAX-style frame both sides
share; ``simulator`` stands in for the non-tax system. The wire protocol is in ``PROTOCOL.md``.
"""
