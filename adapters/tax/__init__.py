"""The local tax bureau's 税费统缴 data-exchange front-end (protocols-cn.md 4.3, 4.4).

``client.TaxClient`` is the ``clearing.ports.Authority`` named "tax": it looks up what a
declaration owes (one voucher per tax and payer), confirms each paid voucher for its 完税证明, and
fetches the day's confirmed vouchers. ``rules`` holds the bureau's rates with their effective
dates; ``simulator`` stands in for the front-end. The wire protocol is in ``PROTOCOL.md``.
"""
