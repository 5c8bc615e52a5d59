# Register-only loop for the `throughput` benchmark: no memory access at all, so it shows the
# emulator's best case. ITERATIONS comes from `as --defsym`.
# Instructions executed: 3 + 4*ITERATIONS + 3.
.intel_syntax noprefix
.text
    mov ebx, ITERATIONS
    xor eax, eax
    mov ecx, 3
1:  add rax, rcx
    xor rdx, rax
    dec rbx
    jnz 1b
    mov eax, 4              # HIC_SYS_EXIT
    xor edi, edi
    syscall
