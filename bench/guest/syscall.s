# Null syscall loop for the `syscall` benchmark: ITERATIONS calls of time_now (nr 5), a call that
# only reads the virtual clock, then exit(0). ITERATIONS comes from `as --defsym`.
# Instructions executed: 1 + 4*ITERATIONS + 3.
.intel_syntax noprefix
.text
    mov ebx, ITERATIONS
1:  mov eax, 5              # HIC_SYS_TIME_NOW
    syscall
    dec rbx
    jnz 1b
    mov eax, 4              # HIC_SYS_EXIT
    xor edi, edi
    syscall
