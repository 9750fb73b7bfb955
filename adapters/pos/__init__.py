"""Card payments on the bank's integrated smart POS (智能POS) at the window, via its terminal cloud.

``client.PosClient`` is the ``clearing.ports.TerminalAcquirer``; ``notify.PosNotifyParser``
checks the terminal's result notifications; ``settlement`` reads the acquirer's settlement file;
``simulator`` stands in for the terminal cloud and its terminals. The wire protocol is described
in ``PROTOCOL.md`` next to this file.
"""
