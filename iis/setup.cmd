@echo off
rem git-http-backend-rs under IIS: server-level setup, run once as Administrator.
rem
rem   iis\setup.cmd [EXE] [REPOS] [SITE] [APP]
rem
rem   EXE    the binary              default C:\git-http-backend-rs\git-http-backend-rs.exe
rem   REPOS  the repositories        default D:\git
rem   SITE   the IIS site            default "Default Web Site"
rem   APP    the application path   default /git   (URLs http://HOST/git/NAME.git)
rem
rem What it does (idempotent: each step first removes what it adds):
rem  1. an application pool "git" (no managed code) and the application APP in SITE,
rem     whose physical folder C:\inetpub\git holds only iis\web.config;
rem  2. the FastCGI application in applicationHost.config (the only place IIS
rem     accepts it), with the environment variables and timeouts below;
rem  3. unlocks system.webServer/handlers for APP (web.config maps the handler);
rem  4. authentication for APP: anonymous on, Windows and Basic off (see
rem     iis\README.md to change it).
rem Edit the environment variables below (GIT_HTTP_ACL_FILE, ...) before running.

setlocal
set EXE=%~1
if "%EXE%"=="" set EXE=C:\git-http-backend-rs\git-http-backend-rs.exe
set REPOS=%~2
if "%REPOS%"=="" set REPOS=D:\git
set SITE=%~3
if "%SITE%"=="" set SITE=Default Web Site
set APP=%~4
if "%APP%"=="" set APP=/git
set APPDIR=C:\inetpub\git
set POOL=git
set APPCMD=%windir%\system32\inetsrv\appcmd.exe
set HERE=%~dp0

if not exist "%APPCMD%" (
  echo IIS is not installed: Install-WindowsFeature Web-Server,Web-CGI,Web-Windows-Auth,Web-Basic-Auth
  exit /b 1
)
if not exist "%EXE%" (
  echo %EXE% not found: copy git-http-backend-rs.exe there first, or pass its path.
  exit /b 1
)

rem ---- 1. application pool and application ----
"%APPCMD%" delete app "%SITE%%APP%" >nul 2>&1
"%APPCMD%" delete apppool "%POOL%" >nul 2>&1
"%APPCMD%" add apppool /name:"%POOL%" /managedRuntimeVersion:"" /processModel.identityType:ApplicationPoolIdentity || exit /b 1
if not exist "%APPDIR%" mkdir "%APPDIR%"
copy /y "%HERE%web.config" "%APPDIR%\web.config" >nul || exit /b 1
rem web.config names the default binary as the handler's scriptProcessor, which
rem must equal the FastCGI application's fullPath: put EXE there when it differs.
if /i not "%EXE%"=="C:\git-http-backend-rs\git-http-backend-rs.exe" (
  powershell -NoProfile -Command "$f='%APPDIR%\web.config'; (Get-Content -Raw $f).Replace('C:\git-http-backend-rs\git-http-backend-rs.exe', $env:EXE) | Set-Content -NoNewline $f" || exit /b 1
)
"%APPCMD%" add app /site.name:"%SITE%" /path:"%APP%" /physicalPath:"%APPDIR%" /applicationPool:"%POOL%" || exit /b 1

rem ---- 2. the FastCGI application (server level) ----
rem protocol NamedPipe: IIS hands the binary a named pipe on standard input; it
rem   serves one connection at a time, IIS starts up to maxInstances processes.
rem activityTimeout/requestTimeout: a large clone or push may run for an hour
rem   with git "thinking" before the first byte (IIS defaults: 30 s and 90 s).
rem stderrMode IgnoreAndReturn200: git-http-backend-rs never writes FCGI_STDERR,
rem   but with the default ReturnStdErrIn500 any such bytes would turn a reply into 500.
rem signalBeforeTerminateSeconds: IIS sets _FCGI_SHUTDOWN_EVENT_ and signals it
rem   on recycle; running requests get that long to finish before the process is killed.
rem arguments '' : the handler's scriptProcessor in web.config is then the bare EXE path.
"%APPCMD%" set config -section:system.webServer/fastCgi /-"[fullPath='%EXE%',arguments='']" /commit:apphost >nul 2>&1
"%APPCMD%" set config -section:system.webServer/fastCgi /+"[fullPath='%EXE%',arguments='',protocol='NamedPipe',maxInstances='8',instanceMaxRequests='10000',activityTimeout='3600',requestTimeout='3600',idleTimeout='600',stderrMode='IgnoreAndReturn200',signalBeforeTerminateSeconds='30']" /commit:apphost || exit /b 1

call :env GIT_PROJECT_ROOT "%REPOS%" || exit /b 1
call :env GIT_HTTP_EXPORT_ALL 1 || exit /b 1
rem Git for Windows refuses repositories owned by another account ("dubious
rem ownership") and the app pool identity owns none: trust the repository root.
call :env GIT_CONFIG_COUNT 1 || exit /b 1
call :env GIT_CONFIG_KEY_0 safe.directory || exit /b 1
call :env GIT_CONFIG_VALUE_0 "*" || exit /b 1
rem Where git.exe is, if it is not on the system PATH (Git for Windows):
call :env GIT_EXEC_PATH "C:\Program Files\Git\mingw64\libexec\git-core" || exit /b 1
rem Log lines (IIS gives the process no standard error). The pool identity needs
rem write access to the folder.
call :env GIT_HTTP_BACKEND_LOG_FILE "C:\git-http-backend-rs\logs\git-http-backend-rs.log" || exit /b 1
rem Optional, see iis\README.md:
rem call :env GIT_HTTP_ACL_FILE "C:\git-http-backend-rs\conf\acl.conf"
rem call :env GIT_HTTP_AUTH_FILE "C:\git-http-backend-rs\conf\htpasswd"

rem ---- 3. let web.config map the handler ----
"%APPCMD%" unlock config "%SITE%%APP%" -section:system.webServer/handlers || exit /b 1

rem ---- 4. authentication (locked sections: set in applicationHost.config) ----
"%APPCMD%" set config "%SITE%%APP%" -section:system.webServer/security/authentication/anonymousAuthentication /enabled:true /commit:apphost || exit /b 1
"%APPCMD%" set config "%SITE%%APP%" -section:system.webServer/security/authentication/windowsAuthentication /enabled:false /commit:apphost >nul 2>&1
"%APPCMD%" set config "%SITE%%APP%" -section:system.webServer/security/authentication/basicAuthentication /enabled:false /commit:apphost >nul 2>&1

if not exist "C:\git-http-backend-rs\logs" mkdir "C:\git-http-backend-rs\logs"
icacls "C:\git-http-backend-rs\logs" /grant "IIS AppPool\%POOL%:(OI)(CI)M" >nul
icacls "%REPOS%" /grant "IIS AppPool\%POOL%:(OI)(CI)M" >nul

echo git-http-backend-rs is set up: http://localhost%APP%/NAME.git (repositories in %REPOS%)
exit /b 0

:env
"%APPCMD%" set config -section:system.webServer/fastCgi /-"[fullPath='%EXE%',arguments=''].environmentVariables.[name='%~1']" /commit:apphost >nul 2>&1
"%APPCMD%" set config -section:system.webServer/fastCgi /+"[fullPath='%EXE%',arguments=''].environmentVariables.[name='%~1',value='%~2']" /commit:apphost || exit /b 1
exit /b 0
