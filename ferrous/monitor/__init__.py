"""ferrous-monitor: the live console for any server speaking the Redis protocol.

Layout: client (RESP2 connection) and collect (poller and MONITOR threads) gather;
info and model turn replies into dashboard state; render draws it with rich; keys
reads the terminal; app runs the loop. Rendering never touches the network.
"""
