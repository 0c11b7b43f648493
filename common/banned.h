/* Functions that are too easy to misuse. Include this header last, after all
 * system headers, in every .c file of the project (as git does). */
#ifndef BS_COMMON_BANNED_H
#define BS_COMMON_BANNED_H

#define BS_BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) BS_BANNED(strcpy)
#undef strcat
#define strcat(x, y) BS_BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BS_BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) BS_BANNED(strncat)
#undef sprintf
#define sprintf(...) BS_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BS_BANNED(vsprintf)
#undef strtok
#define strtok(x, y) BS_BANNED(strtok)
#undef gmtime
#define gmtime(t) BS_BANNED(gmtime)
#undef localtime
#define localtime(t) BS_BANNED(localtime)
#undef ctime
#define ctime(t) BS_BANNED(ctime)
#undef asctime
#define asctime(t) BS_BANNED(asctime)
#undef gets
#define gets(x) BS_BANNED(gets)

#endif
