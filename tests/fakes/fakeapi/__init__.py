# Modules of the fake Kubernetes API server (tests/fakes/fake_apiserver.py).
