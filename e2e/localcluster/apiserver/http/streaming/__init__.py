"""Streaming subresources of pods: the WebSocket upgrade (websocket.py), the remote-command channel protocol
(channels.py) and exec/attach (remotecommand.py)."""

from .remotecommand import ExecProvider, StreamSession, serve

__all__ = ["ExecProvider", "StreamSession", "serve"]
