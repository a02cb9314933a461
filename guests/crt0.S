/* Entry of every guest: a fresh stack below the image, guest_main(), then report the exit status. */
  .section .text.start, "ax"
  .globl _start
_start:
  mov $0x100000, %rsp
  xor %ebp, %ebp
  call guest_main
  mov $0x10c, %dx        /* RG_PORT_EXIT */
1:
  out %eax, %dx
  jmp 1b
