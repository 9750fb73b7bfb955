"""The partner bank (合作银行): where the collection account is kept and from where every
beneficiary is paid.

We deliver signed settlement files (ISO 20022 pain.001.001.09, with the 批量代付 text file beside
it); the bank answers with pain.002.001.10 status reports and camt.053.001.08 end-of-day
statements. Both directions run over HTTPS with client certificates on both sides (``pki``).
``client.BankClient`` pushes our files to the bank's inbox and reads its outbox; ``simulator``
stands in for the bank (``tongjiao sim bank``). The wire contract is ``PROTOCOL.md`` next to this
file.
"""
