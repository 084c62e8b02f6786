#!/bin/sh
# Entry point of the Kyodo image: `kyodo <command>`, `serve` by default.
# The image has no embedded database, so `serve` without a MongoDB URL stops here with a clear
# message instead of failing later on a missing package.
set -eu

if [ "$#" -eq 0 ]; then
  set -- serve
fi

if [ "$1" = "serve" ] && [ -z "${KYODO_MONGO_URL:-}" ]; then
  case " $* " in
    *" --mongo-url "* | *" --mongo-url="*) ;;
    *)
      echo "kyodo: KYODO_MONGO_URL is required: this image has no embedded database." >&2
      echo "kyodo: set it to your MongoDB replica set, e.g. mongodb://db1,db2,db3/?replicaSet=rs0 (see deploy/README.md)" >&2
      exit 64
      ;;
  esac
fi

exec kyodo "$@"
