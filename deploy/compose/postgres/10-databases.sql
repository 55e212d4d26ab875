-- One database per service (docker compose only; in Kubernetes each database is provisioned on its own).
-- Runs once, when the PostgreSQL volume is initialised.
CREATE DATABASE fq_intake;
CREATE DATABASE fq_dispatch;
CREATE DATABASE fq_mediation;
CREATE DATABASE fq_analytics;
CREATE DATABASE fq_gateway;
