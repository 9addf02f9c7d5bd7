# bash completion for dvmqctl: commands and subcommands, each command's options, and, from the
# running daemon, VM names and queue ids (`dvmqctl complete ...` lists them; the daemon's socket
# is the one given with --socket on the line being completed, or $DVMQ_SOCKET).
_dvmqctl()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local -a sock=() words=()
	local i w
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		--socket) sock=(--socket "${COMP_WORDS[i+1]}"); ((i++)) ;;
		--socket=*) sock=("$w") ;;
		--timeout) ((i++)) ;;
		-*) ;;
		*) words+=("$w") ;;
		esac
	done
	local ctl=${COMP_WORDS[0]}
	case $prev in
	--socket) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	--timeout | --mac | --vlan | --weight | --port | --base | --max-processors | --max-number | --processors | \
		--queue-pool | --limit | --max-queues | -n) COMPREPLY=(); return ;;
	--vmq) COMPREPLY=($(compgen -W "on off" -- "$cur")); return ;;
	--numa-node) COMPREPLY=($(compgen -W "any" -- "$cur")); return ;;
	--vm) COMPREPLY=($(compgen -W "$("$ctl" "${sock[@]}" complete vms 2>/dev/null)" -- "$cur")); return ;;
	--queue) COMPREPLY=($(compgen -W "$("$ctl" "${sock[@]}" complete queues 2>/dev/null)" -- "$cur")); return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$("$ctl" complete options "${words[@]}" 2>/dev/null)" -- "$cur"))
		return
	fi
	case ${#words[@]} in
	0) COMPREPLY=($(compgen -W "$("$ctl" complete commands 2>/dev/null)" -- "$cur")); return ;;
	1)
		local verbs
		verbs=$("$ctl" complete verbs "${words[0]}" 2>/dev/null)
		if [[ -n $verbs ]]; then
			COMPREPLY=($(compgen -W "$verbs" -- "$cur"))
			return
		fi
		;;
	esac
	case "${words[0]} ${words[1]}" in
	"vm remove" | "vm show" | "vm set")
		((${#words[@]} == 2)) && COMPREPLY=($(compgen -W "$("$ctl" "${sock[@]}" complete vms 2>/dev/null)" -- "$cur")) ;;
	"queue show")
		((${#words[@]} == 2)) && COMPREPLY=($(compgen -W "$("$ctl" "${sock[@]}" complete queues 2>/dev/null)" -- "$cur")) ;;
	"policy set")
		compopt -o nospace 2>/dev/null
		COMPREPLY=($(compgen -W "$("$ctl" complete policies) $("$ctl" complete params)" -- "$cur")) ;;
	explain*)
		((${#words[@]} == 1)) && COMPREPLY=($(compgen -W "$("$ctl" "${sock[@]}" complete vms 2>/dev/null) $("$ctl" "${sock[@]}" complete queues 2>/dev/null)" -- "$cur")) ;;
	esac
}
complete -F _dvmqctl dvmqctl
