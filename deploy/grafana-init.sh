#!/bin/sh
# One-shot init (compose service grafana-init): gives the collector a Grafana service-account token for
# the downtime → silence reconciliation, through Grafana's HTTP API with the admin's basic auth.
#   1. if TOKEN_FILE holds a token Grafana still accepts, keep it (restarts do not pile up tokens);
#   2. else find or create the service account "rexmon-collector" (role Editor: may write silences),
#   3. add a token to it and write the token to TOKEN_FILE (mode 600, a volume only the collector reads).
# Environment: GRAFANA_URL, GF_SECURITY_ADMIN_USER, GF_SECURITY_ADMIN_PASSWORD, TOKEN_FILE.
set -eu
url=${GRAFANA_URL:-http://grafana:3000}
user=${GF_SECURITY_ADMIN_USER:-admin}
pass=${GF_SECURITY_ADMIN_PASSWORD:-admin}
file=${TOKEN_FILE:-/run/rexmon-grafana/token}
name=rexmon-collector

api() { # METHOD PATH [JSON]: prints the body, fails on a non-2xx answer
  curl -fsS -u "$user:$pass" -H 'Content-Type: application/json' -X "$1" "$url$2" ${3:+--data "$3"}
}
json() { # EXPR: reads JSON on stdin, prints the JavaScript expression's value (j is the document)
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);const v=('"$1"');if(v===undefined||v===null)process.exit(1);console.log(v)})'
}

if [ -s "$file" ] && curl -fsS -o /dev/null -H "Authorization: Bearer $(cat "$file")" "$url/api/alertmanager/grafana/api/v2/silences"; then
  echo "grafana-init: the token in $file still works"
  exit 0
fi
id=$(api GET "/api/serviceaccounts/search?query=$name" | json "j.serviceAccounts.find(a => a.name === '$name')?.id") ||
  id=$(api POST /api/serviceaccounts "{\"name\":\"$name\",\"role\":\"Editor\",\"isDisabled\":false}" | json 'j.id')
key=$(api POST "/api/serviceaccounts/$id/tokens" "{\"name\":\"$name-$(date +%s)\"}" | json 'j.key')
umask 077
printf '%s' "$key" > "$file.new" && mv "$file.new" "$file"
echo "grafana-init: wrote a token of service account $name (id $id) to $file"
