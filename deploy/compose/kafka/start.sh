#!/bin/bash
# The compose Kafka (apache/kafka, KRaft, one node) with SASL/SCRAM-SHA-512 and ACLs: on first start, format the
# storage with the admin's SCRAM credential (KIP-900: the only user that exists before the broker runs; the
# kafka-users job then creates the services' and departments' users and ACLs as that admin, users.sh), write
# the admin's client config for the healthcheck, then run the image's own entrypoint. Passwords: hex
# (openssl rand -hex 24), they are written into JAAS strings.
set -euo pipefail
: "${FQ_KAFKA_ADMIN_PASSWORD:?set FQ_KAFKA_ADMIN_PASSWORD}"
cat > /tmp/fengqiao-admin.properties <<PROPS
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${FQ_KAFKA_ADMIN_PASSWORD}";
PROPS
if [ ! -f "${KAFKA_LOG_DIRS}/meta.properties" ]; then
  cat > /tmp/fengqiao-format.properties <<PROPS
process.roles=${KAFKA_PROCESS_ROLES}
node.id=${KAFKA_NODE_ID}
controller.quorum.voters=${KAFKA_CONTROLLER_QUORUM_VOTERS}
controller.listener.names=${KAFKA_CONTROLLER_LISTENER_NAMES}
listeners=${KAFKA_LISTENERS}
listener.security.protocol.map=${KAFKA_LISTENER_SECURITY_PROTOCOL_MAP}
inter.broker.listener.name=${KAFKA_INTER_BROKER_LISTENER_NAME}
sasl.enabled.mechanisms=${KAFKA_SASL_ENABLED_MECHANISMS}
sasl.mechanism.inter.broker.protocol=${KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL}
log.dirs=${KAFKA_LOG_DIRS}
PROPS
  /opt/kafka/bin/kafka-storage.sh format --cluster-id "${CLUSTER_ID}" -c /tmp/fengqiao-format.properties \
    --add-scram "SCRAM-SHA-512=[name=admin,password=${FQ_KAFKA_ADMIN_PASSWORD}]"
fi
exec /etc/kafka/docker/run
