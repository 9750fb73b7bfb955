"""The city's housing maintenance-fund office (住宅专项维修资金管理中心): what a house owes, and its
deposit certificate once paid.

``client.FundClient`` is the ``clearing.ports.Authority`` named ``fund``: ``lookup`` turns a
deposit notice number (缴存通知书编号) or a property unit number (不动产单元号, ``unit_no``) into
the one ``MAINT_FUND`` item due, ``confirm`` deposits a paid leg and returns the deposit
certificate number (缴存凭证号), ``daily_confirmations`` lists one day's deposits. ``rules`` holds
the city's versioned yuan/m² rates and the exact arithmetic; ``simulator`` stands in for the
office. The wire protocol is described in ``PROTOCOL.md`` next to this file.
"""
