#!/bin/sh
# Once the server answers: the namespace the worker uses and champ's search
# attributes (src/shared.ts). Idempotent.
set -eu
until temporal operator cluster health >/dev/null 2>&1; do sleep 2; done
ns=${TEMPORAL_NAMESPACE:-default}
temporal operator namespace describe --namespace "$ns" >/dev/null 2>&1 || temporal operator namespace create --namespace "$ns" --retention 30d
for name in ChampPipeline ChampStage ChampOutcome; do
  temporal operator search-attribute create --namespace "$ns" --name "$name" --type Keyword >/dev/null 2>&1 || true
done
temporal operator search-attribute list --namespace "$ns" | grep -q ChampOutcome
echo "namespace $ns ready with champ's search attributes"
