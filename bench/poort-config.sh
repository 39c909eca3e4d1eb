# Sourced by `run` and `instructions`: Poort's benchmark configuration, with the reference's
# clients and user (see peer.mjs for the reference's side).

SECRET=bench-client-secret-0123456789
PASSWORD=Correct-Horse-Battery-Staple-42

poort_config() { # dir port [extra toml]
  cat >"$1/poort.toml" <<EOF
[server]
listen = "127.0.0.1:$2"
[storage]
data_dir = "$1/data"
${STORAGE_EXTRA:-}
[log]
level = "error"
[keys]
algorithms = ["RS256", "ES256"]
[accounts]
failure_delay = "0s"
$3
EOF
  for kind in opaque es256 rs256; do
    local format=jwt alg=${kind^^}
    [ "$kind" = opaque ] && { format=opaque; alg=RS256; }
    cat >>"$1/poort.toml" <<EOF
[[clients]]
client_id = "cc-$kind"
client_secret = "$SECRET"
redirect_uris = []
grant_types = ["client_credentials"]
scope = "api:read"
access_token_format = "$format"
access_token_signed_response_alg = "$alg"
EOF
  done
  for alg in RS256 ES256; do
    cat >>"$1/poort.toml" <<EOF
[[clients]]
client_id = "code-${alg,,}"
redirect_uris = ["http://127.0.0.1:9/cb"]
token_endpoint_auth_method = "none"
first_party = true
id_token_signed_response_alg = "$alg"
# As the reference issues them without a resource indicator.
access_token_format = "opaque"
EOF
  done
}
