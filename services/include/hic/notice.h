/* hic/notice.h -- the notice of an update (seed 步骤1.4, 依赖服务通知, and 步骤4.3's closing
 * notice): the Module Manager tells the services that work with the one it updates -- for
 * netstack the seed's upstream services, web_server, dns_resolver and the firewall -- that a
 * rolling update begins, and later how it ended. Each answers on its service endpoint (hic/serve.h)
 * at once:
 *
 *   NOTICE_UPDATE  call: words[0] the event (NOTICE_BEGINS ... NOTICE_FAILED), words[1] the
 *                  version in service, words[2] the new one (packed: major << 16 | minor << 8 |
 *                  patch), payload the updated service's name (a module name,
 *                  [a-z][a-z0-9_]*, at most NOTICE_NAME_MAX bytes, no NUL). Reply label 0,
 *                  words[0] NOTICE_READY_*: what the update means to it.
 *                  A malformed notice is refused with HIC_ERR_INVALID_ARGUMENT.
 *
 * The label is far from every service protocol's own (small numbers), so one endpoint takes both. */
#ifndef HIC_NOTICE_H
#define HIC_NOTICE_H

#define NOTICE_UPDATE 0x4e54
#define NOTICE_NAME_MAX 31

/* The events. */
#define NOTICE_BEGINS 1      /* "netstack将开始滚动更新，请准备连接迁移" */
#define NOTICE_COMPLETED 2   /* the new version serves: full function again ("可以恢复完全功能") */
#define NOTICE_ROLLED_BACK 3 /* the old version serves again */
#define NOTICE_FAILED 4      /* it stopped; what served before serves on */
#define NOTICE_EVENT_MAX 4

/* The answers (the seed's three). */
#define NOTICE_READY 1          /* "准备就绪": nothing of it depends on which instance serves */
#define NOTICE_READY_MIGRATES 2 /* "准备就绪，支持热迁移": what it hands out (web_server's response
                                   tokens) stays valid when a connection moves to another instance */
#define NOTICE_READY_REFRESH 3  /* "准备就绪，需要刷新规则": a new instance must fetch its table
                                   again (the firewall's rules: netstack does at start) */

#endif
