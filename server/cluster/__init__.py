"""Scale-out through Redis: nodes sharing one Redis share rooms, broadcasts and acks.

Owns: the Redis client manager (redis_manager.py), the messages nodes exchange
(messages.py) and their format beside stock python-socketio nodes (compat.py), the
``Emitter`` that publishes from outside a server (emitter.py), the HTTP publish API
``POST /api/v1/emit`` (api.py), and the cluster-wide API plugins reach as
``server.cluster`` (queries.py): requests to every node and their answers over Redis
(requests.py), which nodes are alive (nodes.py), and each node's part (local_ops.py).

May import: ``openline.realtime`` (the manager it extends, the packet classes, the
server it emits through), ``openline.net``, the foundation modules. Not the bridge.
"""
