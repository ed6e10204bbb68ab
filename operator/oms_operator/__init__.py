"""The OMS operator: reconciles `Restaurant` resources (oms.dev/v1alpha1) into a platform.

Run it with `python -m oms_operator`. Handler modules live in `handlers/`, one per concern;
everything else is either a pure builder (`manifests`, `assessment`) or a thin client
(`kube`, `rabbitmq_vhost`, `consul_catalog`).
"""
