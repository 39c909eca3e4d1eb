# Sourced by bench/run: memory with many live sessions, and purging.
#
# Each flow signs in afresh (a new cookie jar), so each leaves one live session, one grant, a
# spent code and an access token. The reference does no password hashing here
# (PEER_LOGIN_HASH=none); to match, Poort's bench user gets an Argon2id hash at the smallest
# parameters (m=8 KiB, t=1), which Poort verifies with the parameters stored in the hash. The
# sessions live in Poort's database, not in its memory: the run reports RSS before and after,
# the database's size, and its size once every row has expired and the purge job ran. To expire
# them without waiting an hour, the run moves every expiry into the past in the database (as the
# clock would), then waits for the purge job.

db_live_mib() { # sqlite file: pages in use (not free), in MiB
  python3 - "$1" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
pages, free, size = (db.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_count", "freelist_count", "page_size"))
print(f"{(pages - free) * size / 1048576:.1f}")
EOF
}

db_count() { # sqlite file, SQL
  python3 -c 'import sqlite3,sys; print(sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True).execute(sys.argv[2]).fetchone()[0])' "$1" "$2"
}

sessions_run() {
  local ttl=3600
  log "Poort: $SESSIONS sign-ins, each leaving a live session"
  local dir=$WORK/sessions; mkdir -p "$dir"
  local port; port=$(free_port); local base=http://127.0.0.1:$port
  STORAGE_EXTRA='purge_interval = "5s"' poort_config "$dir" "$port" "[sessions]
idle_timeout = \"${ttl}s\"
absolute_lifetime = \"${ttl}s\"
[tokens]
authorization_code_ttl = \"5s\"
access_token_ttl = \"${ttl}s\"
id_token_ttl = \"${ttl}s\""
  local cheap
  cheap=$(node -e 'import("argon2").then(async ({ default: a }) => console.log(await a.hash(process.argv[1], { type: a.argon2id, memoryCost: 8, timeCost: 1, parallelism: 1 })))' "$PASSWORD")
  printf '%s' "$PASSWORD" | "$POORT_BIN" --config "$dir/poort.toml" user add --email alice@example.com --username alice --password-stdin >/dev/null
  local db=$dir/data/poort.db
  python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("UPDATE users SET password_hash=? WHERE username=?", (sys.argv[2], "alice")); c.commit()' "$db" "$cheap"
  start_server "$SRV_CPU" "$base" "$dir/server.log" "$POORT_BIN" --config "$dir/poort.toml" serve
  sleep 1
  local rss0 db0; rss0=$(rss_mib "$PID"); db0=$(db_live_mib "$db")
  flowrun "sign-in per flow (no password cost), 32 concurrent" poort "—" "$GEN_CPU" \
    --issuer "$base" --client code-es256 --concurrency 32 --duration 900 --warmup 0 --max-flows "$SESSIONS" "${FLOW_ARGS[@]}"
  local live; live=$(db_count "$db" "SELECT COUNT(*) FROM sessions WHERE ended_at IS NULL AND idle_expires_at > strftime('%s','now')")
  local rss1 db1; rss1=$(rss_mib "$PID"); db1=$(db_live_mib "$db")
  emit "{\"row\":\"RSS growth with $live live sessions\",\"who\":\"poort\",\"target\":\"≤ 100 MiB more\",\"rss_mib\":$(awk -v a="$rss1" -v b="$rss0" 'BEGIN{print a-b}'),\"note\":\"$rss0 → $rss1 MiB; database $db0 → $db1 MiB\"}"
  log "Poort: expiring every row, then waiting for the purge job"
  python3 - "$db" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=30)
for table, columns in [("sessions", ("idle_expires_at", "expires_at")), ("authorization_codes", ("expires_at",)),
                       ("tokens", ("expires_at",)), ("grants", ("expires_at",))]:
    c.execute(f"UPDATE {table} SET " + ", ".join(f"{col} = 1" for col in columns))
c.commit()
EOF
  sleep 12
  local db2; db2=$(db_live_mib "$db")
  local left; left=$(db_count "$db" "SELECT (SELECT COUNT(*) FROM sessions) + (SELECT COUNT(*) FROM grants) + (SELECT COUNT(*) FROM tokens) + (SELECT COUNT(*) FROM authorization_codes)")
  local audit; audit=$(db_count "$db" "SELECT COUNT(*) FROM audit_events")
  emit "{\"row\":\"database after purging expired rows\",\"who\":\"poort\",\"target\":\"back to its size\",\"note\":\"$db2 MiB in use (was $db0 before, $db1 with the sessions); $left sessions, grants, codes or tokens left; the audit trail keeps its $audit sign-in events\",\"errors\":$([ "$left" = 0 ] && echo 0 || echo 1)}"
  stop_server "$PID"

  log "reference: $SESSIONS sign-ins (unbounded in-memory adapter)"
  local qport; qport=$(free_port); local qbase=http://127.0.0.1:$qport
  start_server "$SRV_CPU" "$qbase" "$WORK/peer-sessions.log" env PEER_PORT="$qport" PEER_ADAPTER=map node peer.mjs
  sleep 1
  rss0=$(rss_mib "$PID")
  flowrun "sign-in per flow (no password cost), 32 concurrent" peer "—" "$GEN_CPU" \
    --issuer "$qbase" --client code-es256 --concurrency 32 --duration 900 --warmup 0 --max-flows "$SESSIONS" "${PEER_FLOW_ARGS[@]}"
  rss1=$(rss_mib "$PID")
  emit "{\"row\":\"RSS growth with $live live sessions\",\"who\":\"peer\",\"target\":\"≤ 100 MiB more\",\"rss_mib\":$(awk -v a="$rss1" -v b="$rss0" 'BEGIN{print a-b}'),\"note\":\"$rss0 → $rss1 MiB, in memory\"}"
  stop_server "$PID"
}
