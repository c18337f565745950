#!/bin/sh
# A self-signed TLS certificate for running deploy/compose locally: certs/tls.crt and certs/tls.key, which nginx.conf
# reads (mounted at /etc/nginx/certs). Browsers warn about it and Twilio refuses it: Twilio only calls hosts with a
# publicly trusted certificate, so for real calls put your own tls.crt (full chain) and tls.key there instead.
# The certs directory is in .gitignore: never commit a key.
#
#   deploy/compose/make-dev-cert.sh [HOST]      HOST defaults to localhost; the certificate also names 127.0.0.1
#   CERT_DIR=/some/dir deploy/compose/make-dev-cert.sh   writes there instead (the tests do)
set -eu
host="${1:-localhost}"
san="DNS:$host,DNS:localhost,IP:127.0.0.1"
[ "$host" = localhost ] && san="DNS:localhost,IP:127.0.0.1"
dir="${CERT_DIR:-$(cd "$(dirname "$0")" && pwd)/certs}"
mkdir -p "$dir"
umask 077
openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 30 \
  -subj "/CN=$host" \
  -addext "subjectAltName=$san" \
  -keyout "$dir/tls.key" -out "$dir/tls.crt" 2>/dev/null
chmod 600 "$dir/tls.key"
chmod 644 "$dir/tls.crt"
echo "self-signed certificate for $host (30 days): $dir/tls.crt, key $dir/tls.key"
