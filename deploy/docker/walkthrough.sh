#!/usr/bin/env bash
# The seed walkthrough from the container images on loopback (--network=host):
# Prometheus (host binary) + sidecar image, store-gateway image over a
# FILESYSTEM bucket, querier image with two --store; then query through it.
set -euo pipefail
TAG=${TAG:-0.1.0}
PROMETHEUS=${PROMETHEUS:-${AEON_PEERS_DIR:-/opt/peers}/prometheus3/bin/prometheus}
W=${WORKDIR:-$(mktemp -d /tmp/aeon-walkthrough.XXXXXX)}
mkdir -p $W/prom $W/bucket $W/store
chmod -R 777 $W
cat > $W/prom.yml <<'Y'
global:
  scrape_interval: 1s
  external_labels: {cluster: img, replica: A}
scrape_configs:
  - job_name: prometheus
    static_configs: [{targets: ['127.0.0.1:39090']}]
Y
cat > $W/bucket.yml <<Y
type: FILESYSTEM
config:
  directory: /bucket
Y
chmod 644 $W/*.yml
"$PROMETHEUS" --config.file=$W/prom.yml --storage.tsdb.path=$W/prom \
  --web.listen-address=127.0.0.1:39090 --storage.tsdb.min-block-duration=2h --storage.tsdb.max-block-duration=2h \
  --web.enable-lifecycle > $W/prom.log 2>&1 &
echo $! > $W/prom.pid
cleanup() { docker rm -f imgw-sidecar imgw-store imgw-query >/dev/null 2>&1 || true; kill "$(cat $W/prom.pid)" 2>/dev/null || true; }
trap cleanup EXIT
docker run -d --name imgw-sidecar --network=host -v $W/prom:/prom -v $W/bucket:/bucket -v $W/bucket.yml:/etc/aeon/bucket.yml:ro \
  aeon-sidecar:$TAG --tsdb.path /prom --objstore.config-file /etc/aeon/bucket.yml \
  --prometheus.url http://127.0.0.1:39090 --http-address 127.0.0.1:39191 --grpc-address 127.0.0.1:39190
docker run -d --name imgw-store --network=host -v $W/bucket:/bucket -v $W/bucket.yml:/etc/aeon/bucket.yml:ro -v $W/store:/data \
  aeon-store-gateway:$TAG --data-dir /data --objstore.config-file /etc/aeon/bucket.yml \
  --index-cache-size=250MB --sync-block-duration=5m --min-time=-2w --max-time=-1h \
  --http-address 127.0.0.1:39193 --grpc-address 127.0.0.1:39194
docker run -d --name imgw-query --network=host aeon-querier:$TAG \
  --http-address 127.0.0.1:39192 --grpc-address 127.0.0.1:39195 \
  --store 127.0.0.1:39190 --store 127.0.0.1:39194 --query.replica-label replica
for i in $(seq 1 60); do
  n=$(curl -s 'http://127.0.0.1:39192/api/v1/stores' | python3 -c 'import sys,json; d=json.load(sys.stdin)["data"]; print(sum(1 for v in d.values() for s in v if s.get("lastError") in (None,"")))' 2>/dev/null || echo 0)
  [ "$n" = 2 ] && break; sleep 1
done
echo "healthy stores: $n"
[ "$n" = 2 ] || { echo "FAIL: want 2 healthy stores"; docker logs imgw-query | tail; exit 1; }
curl -s 'http://127.0.0.1:39192/api/v1/stores'; echo
for i in $(seq 1 30); do
  r=$(curl -s 'http://127.0.0.1:39192/api/v1/query?query=up')
  echo "$r" | grep -q '"cluster":"img"' && break; sleep 1
done
echo "query up: $r"
echo "$r" | grep -q '"cluster":"img"' || { echo FAIL; docker logs imgw-query | tail; exit 1; }
echo "$r" | grep -q '"replica"' && { echo "FAIL: replica label not deduplicated"; exit 1; }
for c in imgw-sidecar imgw-store imgw-query; do
  s=$(docker inspect -f '{{.Config.User}} {{.State.Status}}' $c)
  echo "== $c: $s"
  [ "$s" = "65532:65532 running" ] || { echo "FAIL: $c"; exit 1; }
done
curl -s http://127.0.0.1:39193/-/ready; echo; curl -s http://127.0.0.1:39191/-/ready; echo
echo OK
