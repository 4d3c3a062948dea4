//! The shell function that builds or updates an environment on the host.

/// Builds or updates one environment: `vb ID TIMEOUT VENV PYTHON TOOL WHEELHOUSE
/// MODE REQUIREMENTS RECORD KEEP`, under a timeout that stops the whole process
/// group. It says nothing when it succeeds (its caller does, once the whole step
/// is done: a release set goes on after it) and fails the step when it does not. umask 022: the environment is read by the service, not only by the
/// login user. `building` is recorded as soon as the environment exists, so a
/// build that dies half-way is rebuilt (and never mistaken for someone else's).
/// The wheelhouse mirrors the project's: wheels not in KEEP are removed first,
/// so an old wheel cannot satisfy an unpinned requirement.
pub(super) const BUILD_SH: &str = r#"VB='set -e
v=$1 py=$2 tool=$3 wh=$4 mode=$5 req=$6 rec=$7 keep=$8
if [ "$mode" = rebuild ]; then rm -rf -- "$v"; fi
new=
if [ ! -d "$v" ]; then
  new=1
  case $v in */*) mkdir -p -- "${v%/*}";; esac
  case $tool in
    uv:*) "${tool#uv:}" venv --quiet --python "$py" -- "$v";;
    ensurepip) "$py" -m venv -- "$v";;
    *) "$py" -m venv --without-pip -- "$v";;
  esac
  echo building > "$v/.ordo-venv"
fi
set --
if [ -n "$wh" ]; then
  case $wh in /*) ;; *) wh=$PWD/${wh#./};; esac
  for f in "$wh"/*.whl; do
    [ -e "$f" ] || continue
    case "
$keep
" in *"
${f##*/}
"*) ;; *) rm -f -- "$f";; esac
  done
  set -- --no-index --find-links "$wh"
fi
if [ -s "$req" ]; then
  case $tool in
    uv:*)
      [ -z "$wh" ] || set -- "$@" --offline
      [ -n "$new" ] || set -- "$@" --upgrade
      [ -n "$new" ] || [ -z "$wh" ] || set -- "$@" --reinstall
      "${tool#uv:}" pip install --quiet --python "$v/bin/python" "$@" -r "$req";;
    *)
      [ -n "$new" ] || set -- "$@" --upgrade
      [ -n "$new" ] || [ -z "$wh" ] || set -- "$@" --force-reinstall
      if [ "$tool" = ensurepip ]; then set -- -m pip install "$@"; else set -- "${tool#pip:}/pip" install "$@"; fi
      "$v/bin/python" "$@" --quiet --disable-pip-version-check --no-input -r "$req";;
  esac
fi
cp -- "$req" "$v/.ordo-requirements.txt"
printf "%s" "$rec" > "$v/.ordo-venv"'
vb() {
  vi=$1 vt=$2; shift 2
  ( umask 022; export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 UV_PYTHON_DOWNLOADS=never UV_NO_PROGRESS=1; tmo 10 "$vt" sh -c "$VB" vb "$@" ) </dev/null >"$O" 2>&1
  r=$?; [ -z "$ub" ] || [ "$r" != 143 ] || r=124
  if [ $r -eq 124 ] || [ $r -eq 137 ]; then echo "ordo: stopped after $vt s (timeout)" >> "$O"; fi
  [ $r -eq 0 ] || fail "$vi" $r
}"#;
