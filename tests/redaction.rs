//! Alert-evidence redaction through the public API, over a corpus of
//! realistic security events that carry secrets.
//!
//! Each case names the secrets that must not survive and the context (users,
//! hosts, process names, the rest of the command line) that must. The check is
//! on the serialized JSON, which is what leaves the engine.

use serde_json::{json, Value};
use tocsin::alert::redact::{RedactConfig, RedactMode, Redactor};

struct Case {
    name: &'static str,
    event: Value,
    secrets: &'static [&'static str],
    keep: &'static [&'static str],
}

/// `s` as it appears inside serialized JSON (backslashes and quotes escaped).
fn json_escaped(s: &str) -> String {
    let quoted = serde_json::to_string(s).expect("string serializes");
    quoted[1..quoted.len() - 1].to_string()
}

fn corpus() -> Vec<Case> {
    vec![
        Case {
            name: "windows 4688 net use with password after /user",
            event: json!({
                "EventID": 4688, "Channel": "Security", "Computer": "WS042.corp.local",
                "SubjectUserName": "alice", "SubjectDomainName": "CORP", "SubjectLogonId": "0x8a3f2",
                "NewProcessName": "C:\\Windows\\System32\\net.exe",
                "CommandLine": "net use \\\\fs01\\c$ /user:CORP\\svc_backup Bkp!2024pw /persistent:no",
                "TokenElevationType": "%%1936", "MandatoryLabel": "S-1-16-12288",
                "ParentProcessName": "C:\\Windows\\System32\\cmd.exe"
            }),
            secrets: &["Bkp!2024pw"],
            keep: &[
                "alice",
                "WS042.corp.local",
                "C:\\Windows\\System32\\net.exe",
                "net use \\\\fs01\\c$ /user:CORP\\svc_backup ",
                "/persistent:no",
                "%%1936",
                "0x8a3f2",
            ],
        },
        Case {
            name: "windows 4688 net use with password before /user",
            event: json!({
                "EventID": 4688, "SubjectUserName": "alice",
                "CommandLine": "net.exe use Z: \\\\fs02\\finance Fin@nce99 /user:CORP\\bob"
            }),
            secrets: &["Fin@nce99"],
            keep: &["\\\\fs02\\finance", "/user:CORP\\bob"],
        },
        Case {
            name: "windows 4688 net user /add backdoor account",
            event: json!({
                "EventID": 4688, "SubjectUserName": "eve",
                "NewProcessName": "C:\\Windows\\System32\\net1.exe",
                "CommandLine": "net1 user support$ Welc0me#99 /add /domain"
            }),
            secrets: &["Welc0me#99"],
            keep: &["net1 user support$", "/add /domain", "eve"],
        },
        Case {
            name: "sysmon 1 curl with bearer token",
            event: json!({
                "EventID": 1, "Image": "C:\\Windows\\System32\\curl.exe", "User": "CORP\\alice",
                "CommandLine": "curl -s -H \"Authorization: Bearer 7f1c9e2ab34d5e6f90\" https://api.internal/v1/users",
                "TerminalSessionId": 1, "IntegrityLevel": "Medium",
                "Hashes": "SHA256=9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"
            }),
            secrets: &["7f1c9e2ab34d5e6f90"],
            keep: &[
                "curl -s -H \"Authorization: Bearer ",
                "https://api.internal/v1/users",
                "CORP\\alice",
                "SHA256=9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08",
                "\"TerminalSessionId\":1",
            ],
        },
        Case {
            name: "kubectl with --token=",
            event: json!({
                "process": {"name": "kubectl", "command_line": "kubectl --server=https://k8s.corp:6443 --token=kt-9d8c7b6a5f4e3d2c get secrets -A"},
                "user": {"name": "ci-runner"}, "host": {"name": "build07"}
            }),
            secrets: &["kt-9d8c7b6a5f4e3d2c"],
            keep: &[
                "kubectl --server=https://k8s.corp:6443 --token=",
                "get secrets -A",
                "ci-runner",
                "build07",
            ],
        },
        Case {
            name: "kubectl with --token <value> and a JWT",
            event: json!({
                "process": {"command_line": "kubectl --token eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJpc3MiOiJrdWJlcm5ldGVzIn0.c2lnbmF0dXJlLWJ5dGVz exec -it pod/web-0 -- sh"},
                "user": {"name": "mallory"}
            }),
            secrets: &["eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ", "c2lnbmF0dXJlLWJ5dGVz"],
            keep: &["exec -it pod/web-0 -- sh", "mallory"],
        },
        Case {
            name: "powershell ConvertTo-SecureString plaintext (4104)",
            event: json!({
                "EventID": 4104, "Channel": "Microsoft-Windows-PowerShell/Operational",
                "ScriptBlockText": "$pw = ConvertTo-SecureString \"Autumn#2024!\" -AsPlainText -Force; $c = New-Object System.Management.Automation.PSCredential('CORP\\bob', $pw); Invoke-Command -ComputerName dc01 -Credential $c -ScriptBlock { whoami }",
                "Path": "C:\\Users\\bob\\run.ps1"
            }),
            secrets: &["Autumn#2024!"],
            keep: &[
                "ConvertTo-SecureString",
                "-AsPlainText -Force",
                "PSCredential('CORP\\bob', $pw)",
                "Invoke-Command -ComputerName dc01 -Credential $c -ScriptBlock",
            ],
        },
        Case {
            name: "powershell NetworkCredential with plaintext",
            event: json!({
                "EventID": 4104,
                "ScriptBlockText": "$cred = New-Object System.Net.NetworkCredential('svc_sql', 'SqlSvc!2024'); $wc.Credentials = $cred"
            }),
            secrets: &["SqlSvc!2024"],
            keep: &["NetworkCredential('svc_sql', "],
        },
        Case {
            name: "sudo log with mysql -pSecret",
            event: json!({
                "log": {"syslog": {"appname": "sudo"}}, "host": {"hostname": "db-bastion"},
                "message": "bob : TTY=pts/1 ; PWD=/home/bob ; USER=root ; COMMAND=/usr/bin/mysql -u root -pMyS3cretDB payroll"
            }),
            secrets: &["MyS3cretDB"],
            keep: &[
                "PWD=/home/bob",
                "COMMAND=/usr/bin/mysql -u root -p",
                "payroll",
                "db-bastion",
            ],
        },
        Case {
            name: "nginx access log with ?token= in the URL",
            event: json!({
                "url": {"original": "/api/export?format=csv&token=tk_0a9b8c7d6e5f4a3b&page=2"},
                "source": {"ip": "203.0.113.7"}, "http": {"response": {"status_code": 200}},
                "user_agent": {"original": "python-requests/2.31"}
            }),
            secrets: &["tk_0a9b8c7d6e5f4a3b"],
            keep: &[
                "/api/export?format=csv&token=",
                "&page=2",
                "203.0.113.7",
                "python-requests/2.31",
            ],
        },
        Case {
            name: "CloudTrail AssumeRole response credentials",
            event: json!({
                "eventSource": "sts.amazonaws.com", "eventName": "AssumeRole",
                "userIdentity": {"type": "IAMUser", "userName": "deploy-bot", "arn": "arn:aws:iam::123456789012:user/deploy-bot", "accessKeyId": "AKIAQWERTYUIOPASDFGH"},
                "sourceIPAddress": "198.51.100.20",
                "requestParameters": {"roleArn": "arn:aws:iam::123456789012:role/Admin", "roleSessionName": "deploy-42"},
                "responseElements": {"credentials": {
                    "accessKeyId": "ASIAZXCVBNMLKJHGFDSA",
                    "secretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
                    "sessionToken": "FwoGZXIvYXdzEJr//////////wEaDOsessiontokenvalue",
                    "expiration": "Jan 1, 2025 1:00:00 AM"
                }}
            }),
            secrets: &[
                "AKIAQWERTYUIOPASDFGH",
                "ASIAZXCVBNMLKJHGFDSA",
                "wJalrXUtnFEMI",
                "FwoGZXIvYXdzEJr",
            ],
            keep: &[
                "deploy-bot",
                "AssumeRole",
                "198.51.100.20",
                "deploy-42",
                "arn:aws:iam::123456789012:role/Admin",
            ],
        },
        Case {
            name: "CloudTrail GetSessionToken via CLI user agent with key in request",
            event: json!({
                "eventName": "GetSessionToken", "userIdentity": {"userName": "carol"},
                "requestParameters": {"tokenCode": "492817", "serialNumber": "arn:aws:iam::123456789012:mfa/carol"},
                "responseElements": {"credentials": {"sessionToken": "IQoJb3JpZ2luX2VjEHsessiontoken2"}}
            }),
            secrets: &["492817", "IQoJb3JpZ2luX2VjEHsessiontoken2"],
            keep: &["carol", "GetSessionToken", "arn:aws:iam::123456789012:mfa/carol"],
        },
        Case {
            name: "Okta authn with sessionToken and externalSessionId",
            event: json!({
                "eventType": "user.session.start", "displayMessage": "User login to Okta",
                "actor": {"alternateId": "dave@corp.example", "displayName": "Dave Smith"},
                "authenticationContext": {"credentialType": "PASSWORD", "externalSessionId": "102bZDNFfWaQSyEZQuDgWt-uQ"},
                "debugContext": {"debugData": {"requestUri": "/login/sessionCookieRedirect?checkAccountSetupComplete=true&token=20111WvKQbd3vJxM2pP&redirectUrl=https%3A%2F%2Fcorp.okta.com"}},
                "outcome": {"result": "SUCCESS"}
            }),
            secrets: &["102bZDNFfWaQSyEZQuDgWt-uQ", "20111WvKQbd3vJxM2pP"],
            keep: &[
                "dave@corp.example",
                "Dave Smith",
                "PASSWORD",
                "user.session.start",
                "checkAccountSetupComplete=true",
                "redirectUrl=",
            ],
        },
        Case {
            name: "Okta primary authentication response body",
            event: json!({
                "http": {"response": {"body": {"content": "{\"status\":\"SUCCESS\",\"sessionToken\":\"20111Wx6nSzGyjHrFq\",\"_embedded\":{\"user\":{\"profile\":{\"login\":\"erin@corp.example\"}}}}"}}}
            }),
            secrets: &["20111Wx6nSzGyjHrFq"],
            keep: &["erin@corp.example", "\"status\":\"SUCCESS\""],
        },
        Case {
            name: "PsExec with -p",
            event: json!({
                "EventID": 1, "Image": "C:\\Tools\\PsExec64.exe",
                "CommandLine": "PsExec64.exe \\\\ws117 -u CORP\\itadmin -p ItAdm1n!Pw -s -accepteula cmd.exe /c whoami",
                "User": "CORP\\frank"
            }),
            secrets: &["ItAdm1n!Pw"],
            keep: &[
                "\\\\ws117 -u CORP\\itadmin -p ",
                "-s -accepteula cmd.exe /c whoami",
                "CORP\\frank",
            ],
        },
        Case {
            name: "impacket secretsdump with user:pass@host",
            event: json!({
                "process": {"command_line": "python3 secretsdump.py corp.local/Administrator:Sup3r@dm1n!@10.0.0.10 -just-dc-ntlm", "name": "python3"},
                "host": {"name": "kali"}
            }),
            secrets: &["Sup3r@dm1n!"],
            keep: &[
                "secretsdump.py corp.local/Administrator:",
                "@10.0.0.10 -just-dc-ntlm",
                "kali",
            ],
        },
        Case {
            name: "mimikatz pass-the-hash",
            event: json!({
                "CommandLine": "mimikatz.exe \"privilege::debug\" \"sekurlsa::pth /user:Administrator /domain:corp.local /ntlm:cc36cf7a8514893efccd332446158b1a /run:cmd.exe\" exit",
                "User": "CORP\\grace"
            }),
            secrets: &["cc36cf7a8514893efccd332446158b1a"],
            keep: &["sekurlsa::pth /user:Administrator /domain:corp.local", "/run:cmd.exe"],
        },
        Case {
            name: "impacket -hashes LM:NT",
            event: json!({"process": {"command_line": "wmiexec.py -hashes aad3b435b51404eeaad3b435b51404ee:31d6cfe0d16ae931b73c59d7e0c089c0 corp/admin@10.0.0.5"}}),
            secrets: &["31d6cfe0d16ae931b73c59d7e0c089c0"],
            keep: &["wmiexec.py -hashes ", "corp/admin@10.0.0.5"],
        },
        Case {
            name: "sqlcmd -P",
            event: json!({
                "CommandLine": "sqlcmd.exe -S sql01\\PROD -U sa -P Sa!Passw0rd2024 -Q \"SELECT name FROM sys.databases\"",
                "User": "CORP\\henry"
            }),
            secrets: &["Sa!Passw0rd2024"],
            keep: &["-S sql01\\PROD -U sa -P ", "SELECT name FROM sys.databases"],
        },
        Case {
            name: "connection string in an application config change",
            event: json!({
                "event": {"action": "config-change"},
                "details": "set appsettings: Server=sql01;Database=payroll;User Id=app_payroll;Password=Pyr0ll!Db;Encrypt=true",
                "user": {"name": "ivan"}
            }),
            secrets: &["Pyr0ll!Db"],
            keep: &[
                "Server=sql01;Database=payroll;User Id=app_payroll;Password=",
                ";Encrypt=true",
                "ivan",
            ],
        },
        Case {
            name: "ConnectionString field and Azure storage key on a command line",
            event: json!({
                "ConnectionString": "Server=tcp:corp.database.windows.net;Database=crm;User ID=crmadmin;Password=Crm#Adm1n;",
                "process": {"command_line": "az storage blob upload -f dump.zip -c exfil --connection-string \"DefaultEndpointsProtocol=https;AccountName=corpstore;AccountKey=QWxhZGRpbjpvcGVuIHNlc2FtZQ+/abc==;EndpointSuffix=core.windows.net\""}
            }),
            secrets: &["Crm#Adm1n", "QWxhZGRpbjpvcGVuIHNlc2FtZQ"],
            keep: &["az storage blob upload -f dump.zip -c exfil"],
        },
        Case {
            name: "PEM private key written by a script",
            event: json!({
                "process": {"command_line": "bash -c \"echo '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----' > /root/.ssh/id_ed25519\""},
                "user": {"name": "root"}
            }),
            secrets: &["b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ"],
            keep: &["-----BEGIN OPENSSH PRIVATE KEY-----", "> /root/.ssh/id_ed25519"],
        },
        Case {
            name: "ssh private key field in a secrets-manager event",
            event: json!({"deploy": {"ssh_private_key": "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAxyz\n-----END RSA PRIVATE KEY-----", "target": "web01"}}),
            secrets: &["MIIEowIBAAKCAQEAxyz"],
            keep: &["web01"],
        },
        Case {
            name: "git clone with a GitHub token in the URL",
            event: json!({
                "process": {"command_line": "git clone https://ghp_R2d2C3poR2d2C3poR2d2C3poR2d2C3po1234@github.com/corp/infra.git", "name": "git"},
                "user": {"name": "judy"}
            }),
            secrets: &["ghp_R2d2C3poR2d2C3poR2d2C3poR2d2C3po1234"],
            keep: &["git clone https://", "@github.com/corp/infra.git", "judy"],
        },
        Case {
            name: "Slack bot token in env and in a curl body",
            event: json!({
                "process": {
                    "env": {"SLACK_BOT_TOKEN": "xoxb-2401938471-2390481723-AbCdEfGhIjKlMnOpQrStUv", "HOME": "/home/ci"},
                    "command_line": "curl -X POST -d token=xoxb-2401938471-2390481723-AbCdEfGhIjKlMnOpQrStUv -d channel=C024BE91L https://slack.com/api/chat.postMessage"
                }
            }),
            secrets: &["xoxb-2401938471", "AbCdEfGhIjKlMnOpQrStUv"],
            keep: &[
                "/home/ci",
                "-d channel=C024BE91L",
                "https://slack.com/api/chat.postMessage",
            ],
        },
        Case {
            name: "Google API key in a proxy log URL",
            event: json!({
                "url": {"full": "https://maps.googleapis.com/maps/api/geocode/json?address=1600+Amphitheatre&key=AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"},
                "source": {"user": {"name": "kim"}}
            }),
            secrets: &["AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"],
            keep: &[
                "maps.googleapis.com/maps/api/geocode/json?address=1600+Amphitheatre&key=",
                "kim",
            ],
        },
        Case {
            name: "card number and cvv in a WAF-logged form body",
            event: json!({
                "httpRequest": {"clientIp": "192.0.2.44", "uri": "/checkout", "args": "",
                    "headers": [{"name": "Host", "value": "shop.example"}, {"name": "Cookie", "value": "sessid=9a8b7c6d5e4f3a2b"}]},
                "body": "name=Lee+Chen&card=4111 1111 1111 1111&exp=12%2F27&cvv=737"
            }),
            secrets: &["4111 1111 1111 1111", "9a8b7c6d5e4f3a2b", "cvv=737"],
            keep: &[
                "shop.example",
                "/checkout",
                "name=Lee+Chen",
                "exp=12%2F27",
                "192.0.2.44",
            ],
        },
        Case {
            name: "card number as a JSON number in an application event",
            event: json!({"order": {"id": "ord-5512", "pan": 5555555555554444u64, "amount": 12999}}),
            secrets: &["5555555555554444"],
            keep: &["ord-5512", "12999"],
        },
        Case {
            name: "proxy Basic authorization header",
            event: json!({
                "squid": {"request_headers": "Host: intranet.corp\r\nProxy-Authorization: Basic bWFyazpQcm94eVBhc3MxIQ==\r\nUser-Agent: curl/8.4"},
                "source": {"ip": "10.20.30.40"}
            }),
            secrets: &["bWFyazpQcm94eVBhc3MxIQ=="],
            keep: &["Host: intranet.corp", "User-Agent: curl/8.4", "10.20.30.40"],
        },
        Case {
            name: "OIDC callback with id_token in the fragment",
            event: json!({
                "url": "https://app.corp/callback#id_token=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJuaWNrQGNvcnAifQ.U2lnbmF0dXJlUGFydA&state=af0ifjsldkj",
                "user": "nick"
            }),
            secrets: &["eyJhbGciOiJSUzI1NiJ9", "U2lnbmF0dXJlUGFydA"],
            keep: &["https://app.corp/callback#id_token=", "state=af0ifjsldkj", "nick"],
        },
        Case {
            name: "docker login -p on a build agent",
            event: json!({"process": {"command_line": "docker login -u ci-bot -p dckr_pat_Xy9Zw8Vu7Ts6 registry.corp.io"}}),
            secrets: &["dckr_pat_Xy9Zw8Vu7Ts6"],
            keep: &["docker login -u ci-bot -p ", "registry.corp.io"],
        },
        Case {
            name: "aws configure set with a secret key",
            event: json!({"process": {"command_line": "aws configure set aws_secret_access_key 9drTJvcXLB89EXAMPLELB8923FB892xMFI --profile prod"}}),
            secrets: &["9drTJvcXLB89EXAMPLELB8923FB892xMFI"],
            keep: &["aws configure set aws_secret_access_key ", "--profile prod"],
        },
        Case {
            name: "cmdkey /pass and schtasks /rp",
            event: json!({
                "a": {"CommandLine": "cmdkey /generic:TERMSRV/rds01 /user:CORP\\olga /pass:Rds!Pass2024"},
                "b": {"CommandLine": "schtasks /create /tn Updater /tr C:\\ProgramData\\u.exe /sc onlogon /ru CORP\\olga /rp Sch3d!Pw"}
            }),
            secrets: &["Rds!Pass2024", "Sch3d!Pw"],
            keep: &[
                "cmdkey /generic:TERMSRV/rds01 /user:CORP\\olga /pass:",
                "/tn Updater",
                "/ru CORP\\olga /rp ",
            ],
        },
        Case {
            name: "ftp URL credentials and wget --password",
            event: json!({
                "process": {"command_line": "wget --user=paul --password=Ftp!Pw77 ftp://files.corp/dump.sql; curl ftp://paul:Ftp2Pw88@files.corp/x"}
            }),
            secrets: &["Ftp!Pw77", "Ftp2Pw88"],
            keep: &[
                "wget --user=paul --password=",
                "ftp://files.corp/dump.sql",
                "ftp://paul:",
                "@files.corp/x",
            ],
        },
        Case {
            name: "chpasswd and sudo -S on linux",
            event: json!({
                "auditd": {"data": {"cmd": "sh -c echo 'deploy:Depl0y!Linux' | chpasswd && echo SudoPw!9 | sudo -S systemctl restart app"}},
                "user": {"name": "quinn"}
            }),
            secrets: &["Depl0y!Linux", "SudoPw!9"],
            keep: &["deploy:", "chpasswd", "sudo -S systemctl restart app", "quinn"],
        },
        Case {
            name: "xfreerdp, smbclient, sshpass and 7z exfil",
            event: json!({"commands": [
                "xfreerdp /v:10.0.0.20 /u:rita /p:Rdp!Pw2024 /cert:ignore",
                "smbclient //10.0.0.21/share -U 'CORP\\rita%Smb!Pw2024'",
                "sshpass -p 'Ssh!Pw2024' ssh rita@10.0.0.22",
                "7z a -pExf1l!2024 -mhe=on loot.7z C:\\Users\\rita\\Documents"
            ]}),
            secrets: &["Rdp!Pw2024", "Smb!Pw2024", "Ssh!Pw2024", "Exf1l!2024"],
            keep: &[
                "/v:10.0.0.20 /u:rita",
                "/cert:ignore",
                "CORP\\rita%",
                "ssh rita@10.0.0.22",
                "loot.7z",
            ],
        },
        Case {
            name: "openssl passin and Stripe key in env",
            event: json!({
                "process": {"command_line": "openssl pkcs12 -in client.p12 -passin pass:P12!export -nodes -out client.pem",
                    "env": {"PAYMENTS_KEY": "sk_live_51HxYzAbCdEfGhIjKlMnOp"}}
            }),
            secrets: &["P12!export", "sk_live_51HxYzAbCdEfGhIjKlMnOp"],
            keep: &["openssl pkcs12 -in client.p12 -passin pass:", "-nodes -out client.pem"],
        },
        Case {
            name: "AWS WAF headers array with Authorization and X-Api-Key",
            event: json!({
                "httpRequest": {"headers": [
                    {"name": "host", "value": "api.corp.example"},
                    {"name": "authorization", "value": "opaque-7d9e1c2b"},
                    {"name": "x-api-key", "value": "ak_5f4e3d2c1b0a"}
                ], "uri": "/v2/orders"}
            }),
            secrets: &["opaque-7d9e1c2b", "ak_5f4e3d2c1b0a"],
            keep: &["api.corp.example", "/v2/orders", "authorization", "x-api-key"],
        },
        Case {
            name: "Kubernetes audit: Secret created with a password key",
            event: json!({
                "kind": "Event", "verb": "create", "user": {"username": "system:serviceaccount:ci:deployer"},
                "objectRef": {"resource": "secrets", "namespace": "prod", "name": "db-creds"},
                "requestObject": {"kind": "Secret", "stringData": {"db-password": "K8s!DbPw2024", "db-user": "app"}}
            }),
            secrets: &["K8s!DbPw2024"],
            keep: &["system:serviceaccount:ci:deployer", "db-creds", "\"db-user\":\"app\""],
        },
    ]
}

#[test]
fn corpus_is_large_enough() {
    let cases = corpus();
    let secrets: usize = cases.iter().map(|c| c.secrets.len()).sum();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    assert!(secrets >= 30, "{secrets} secrets");
}

#[test]
fn corpus_secrets_are_gone_and_context_stays() {
    let redactor = Redactor::default_on();
    let mut failures = Vec::new();
    for case in corpus() {
        let raw = case.event.to_string();
        for s in case.secrets {
            // Guard the corpus itself: the secret really was in the event.
            assert!(
                raw.contains(&json_escaped(s)),
                "{}: secret {s:?} not in the input",
                case.name
            );
        }
        let mut event = case.event.clone();
        let n = redactor.redact(&mut event);
        let out = event.to_string();
        if n == 0 {
            failures.push(format!("{}: nothing redacted", case.name));
        }
        for s in case.secrets {
            if out.contains(&json_escaped(s)) || out.contains(s) {
                failures.push(format!("{}: secret {s:?} survived in {out}", case.name));
            }
        }
        for k in case.keep {
            // Context inside a string appears escaped; JSON structure does not.
            if !out.contains(&json_escaped(k)) && !out.contains(k) {
                failures.push(format!("{}: context {k:?} lost from {out}", case.name));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn corpus_secrets_are_gone_in_every_mode() {
    let modes = [
        Redactor::new(&RedactConfig {
            mode: RedactMode::Drop,
            ..RedactConfig::default()
        })
        .unwrap(),
        Redactor::new(&RedactConfig {
            mode: RedactMode::Hash,
            hmac_key: Some("corpus-key".into()),
            ..RedactConfig::default()
        })
        .unwrap(),
    ];
    for redactor in &modes {
        for case in corpus() {
            let mut event = case.event.clone();
            redactor.redact(&mut event);
            let out = event.to_string();
            for s in case.secrets {
                assert!(
                    !out.contains(&json_escaped(s)),
                    "{:?} {}: {s:?} survived in {out}",
                    redactor,
                    case.name
                );
            }
        }
    }
}

#[test]
fn benign_windows_and_cloud_events_are_untouched() {
    let events = [
        json!({
            "EventID": 4624, "Channel": "Security", "Computer": "WS01.corp.local",
            "TargetUserName": "bob", "TargetDomainName": "CORP", "TargetLogonId": "0x8a3f2",
            "LogonType": 10, "LogonProcessName": "User32", "AuthenticationPackageName": "Negotiate",
            "ElevatedToken": "%%1842", "VirtualAccount": "%%1843", "KeyLength": 0,
            "IpAddress": "10.1.2.3",
            "Message": "An account was successfully logged on.\r\n\r\nLogon Information:\r\n\tLogon Type:\t\t10\r\n\tRestricted Admin Mode:\t-\r\n\tVirtual Account:\t\tNo\r\n\tElevated Token:\t\tYes\r\n\r\nNew Logon:\r\n\tAccount Name:\t\tbob\r\n\tLogon ID:\t\t0x8A3F2\r\n\tLogon GUID:\t\t{00000000-0000-0000-0000-000000000000}\r\n\r\nDetailed Authentication Information:\r\n\tLogon Process:\t\tUser32 \r\n\tPackage Name (NTLM only):\t-\r\n\tKey Length:\t\t0"
        }),
        json!({
            "EventID": 4738, "TargetUserName": "bob", "SubjectUserName": "admin", "SubjectLogonId": "0x3e7",
            "PasswordLastSet": "5/1/2024 10:00:00 AM", "event": {"action": "password-reset", "outcome": "success"}
        }),
        json!({
            "EventID": 4688, "TokenElevationType": "%%1937", "MandatoryLabel": "S-1-16-16384",
            "CommandLine": "\"C:\\Program Files\\App\\app.exe\" --config C:\\ProgramData\\app.toml --log-level info",
            "NewProcessId": "0x1a2c"
        }),
        json!({
            "EventID": 7, "Image": "C:\\Windows\\explorer.exe", "ImageLoaded": "C:\\Windows\\System32\\ntdll.dll",
            "Signature": "Microsoft Windows", "SignatureStatus": "Valid", "Signed": "true"
        }),
        json!({
            "EventID": 4778, "AccountName": "bob", "SessionName": "RDP-Tcp#3", "ClientName": "LAPTOP-7", "ClientAddress": "10.9.8.7"
        }),
        json!({
            "eventName": "ConsoleLogin", "userIdentity": {"type": "IAMUser", "userName": "carol",
                "sessionContext": {"attributes": {"mfaAuthenticated": "true", "creationDate": "2024-05-01T10:00:00Z"}}},
            "responseElements": {"ConsoleLogin": "Success"}, "additionalEventData": {"MFAUsed": "Yes"}
        }),
        json!({
            "eventType": "user.authentication.sso", "actor": {"alternateId": "dave@corp.example"},
            "authenticationContext": {"credentialType": "PASSWORD", "credentialProvider": "OKTA_CREDENTIAL_PROVIDER"},
            "tokenIssuerType": "AzureAD", "ts": 1714557600006u64
        }),
    ];
    let redactor = Redactor::default_on();
    for original in events {
        let mut event = original.clone();
        assert_eq!(redactor.redact(&mut event), 0, "{event:#}");
        assert_eq!(event, original);
    }
}

#[test]
fn redact_str_replaces_only_the_secret() {
    let r = Redactor::default_on();
    assert_eq!(
        r.redact_str("curl -H \"Authorization: Bearer abc123def456\" https://x")
            .as_deref(),
        Some("curl -H \"Authorization: Bearer [REDACTED]\" https://x")
    );
    assert_eq!(
        r.redact_str("net use \\\\h\\s /user:bob hunter2").as_deref(),
        Some("net use \\\\h\\s /user:bob [REDACTED]")
    );
    assert_eq!(r.redact_str("whoami /all"), None);
}

/// The prefilter that skips patterns compares their literals ASCII-case-
/// insensitively; the patterns themselves are Unicode-case-insensitive. Odd
/// spellings must still be found.
#[test]
fn odd_case_and_unicode_case_folding_spellings_are_found() {
    let r = Redactor::default_on();
    for (input, expected) in [
        ("PASSWORD=hunter2", "PASSWORD=[REDACTED]"),
        ("pAsSwOrD=hunter2", "pAsSwOrD=[REDACTED]"),
        // `ſ` (long s) and `K` (Kelvin sign) match `s` and `k` case-insensitively.
        ("pa\u{17F}\u{17F}word=hunter2", "pa\u{17F}\u{17F}word=[REDACTED]"),
        ("to\u{212A}en=abc123", "to\u{212A}en=[REDACTED]"),
        (
            "NET USE \\\\fs01\\c$ /USER:corp\\bob Hunter2!",
            "NET USE \\\\fs01\\c$ /USER:corp\\bob [REDACTED]",
        ),
        (
            "Product: Microsoft® Windows® — password=hunter2",
            "Product: Microsoft® Windows® — password=[REDACTED]",
        ),
    ] {
        assert_eq!(r.redact_str(input).as_deref(), Some(expected), "{input:?}");
    }
}

/// A full Sysmon process-creation event (the benchmark's): nothing in it is
/// a secret, and repeated redaction on one thread, then on another, gives
/// the same answers (field-name classifications are remembered per thread).
#[test]
fn sysmon_process_creation_is_untouched_and_its_password_variant_redacted() {
    let clean = json!({
        "EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "WS-6439.corp.example.com",
        "Provider_Name": "Microsoft-Windows-Sysmon", "EventRecordID": 1420010,
        "@timestamp": "2026-03-02T08:00:00.088499Z", "RuleName": "-", "UtcTime": "2026-03-02 08:00:00.088",
        "ProcessGuid": "{0D6BF05B-AC83-1348-54B8-126DAE1C6393}", "ProcessId": 20806,
        "Image": "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe", "FileVersion": "119.0.2151.72",
        "Description": "Microsoft Edge", "Product": "Microsoft Edge", "Company": "Microsoft Corporation",
        "OriginalFileName": "msedge.exe",
        "CommandLine": "\"C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe\" --type=gpu-process --field-trial-handle=1884,i,9876543210123456,1234567890,262144 /prefetch:2",
        "CurrentDirectory": "C:\\Users\\ivan.petrov\\", "User": "CORP\\ivan.petrov",
        "LogonGuid": "{0D6BF05B-1F2E-6560-3B7A-0D0000000000}", "LogonId": "0xd7a3b", "TerminalSessionId": 1,
        "IntegrityLevel": "Medium", "Hashes": "SHA256=A24E636B64EEC6E58E9BD300B43229D92E4D5E3DC1E37E38D96A7EAA3B18AF5B",
        "ParentProcessGuid": "{0D6BF05B-AB11-1348-1FB8-126DAE1C6100}", "ParentProcessId": 7257,
        "ParentImage": "C:\\Windows\\System32\\svchost.exe", "ParentCommandLine": "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Appinfo",
        "ParentUser": "NT AUTHORITY\\SYSTEM"
    });
    let mut with_password = clean.clone();
    with_password["CommandLine"] = json!("net use \\\\fs01\\c$ /user:CORP\\svc_backup Bkp!2024pw /persistent:no");
    let r = Redactor::default_on();
    let check = |r: &Redactor| {
        for _ in 0..3 {
            let mut v = clean.clone();
            assert_eq!(r.redact(&mut v), 0, "{v:#}");
            assert_eq!(v, clean);
            let mut v = with_password.clone();
            assert_eq!(r.redact(&mut v), 1, "{v:#}");
            assert_eq!(
                v["CommandLine"],
                "net use \\\\fs01\\c$ /user:CORP\\svc_backup [REDACTED] /persistent:no"
            );
            v["CommandLine"] = with_password["CommandLine"].clone();
            assert_eq!(v, with_password);
        }
    };
    check(&r);
    std::thread::scope(|s| {
        s.spawn(|| check(&r));
    });
}

#[test]
fn hash_mode_is_deterministic_and_key_dependent() {
    let hash = |key: &str| {
        Redactor::new(&RedactConfig {
            mode: RedactMode::Hash,
            hmac_key: Some(key.into()),
            ..RedactConfig::default()
        })
        .unwrap()
    };
    let alert_a = json!({"sessionId": "d3b07384d113edec49eaa6238ad5ff00", "user": "bob", "url": "/a?sessionid=d3b07384d113edec49eaa6238ad5ff00"});
    let alert_b = json!({"event": {"session_id": "d3b07384d113edec49eaa6238ad5ff00", "action": "logout"}});

    let (mut a1, mut b1, mut a2) = (alert_a.clone(), alert_b.clone(), alert_a.clone());
    let k1 = hash("key-one");
    assert_eq!(k1.redact(&mut a1), 2);
    assert_eq!(k1.redact(&mut b1), 1);
    hash("key-two").redact(&mut a2);

    let h = a1["sessionId"].as_str().unwrap().to_string();
    assert!(h.starts_with("hmac-sha256:"), "{h}");
    assert_eq!(h.len(), "hmac-sha256:".len() + 16);
    assert!(h["hmac-sha256:".len()..].bytes().all(|b| b.is_ascii_hexdigit()));
    // Same key, same secret: the session can be followed across alerts and fields.
    assert_eq!(b1["event"]["session_id"], h.as_str());
    assert_eq!(a1["url"], format!("/a?sessionid={h}"));
    // Deterministic across redactor instances.
    let mut again = alert_a.clone();
    hash("key-one").redact(&mut again);
    assert_eq!(again, a1);
    // Key-dependent.
    assert_ne!(a2["sessionId"], a1["sessionId"]);
    assert!(!a1.to_string().contains("d3b07384d113edec49eaa6238ad5ff00"));
    assert_eq!(a1["user"], "bob");

    assert!(Redactor::new(&RedactConfig {
        mode: RedactMode::Hash,
        ..RedactConfig::default()
    })
    .is_err());
}

#[test]
fn config_section_parses_from_toml() {
    let cfg: RedactConfig = toml::from_str(
        "enabled = true\nmode = \"drop\"\nextra_field_patterns = [\"ssn\"]\nallow_fields = [\"http.request.body\"]\n",
    )
    .unwrap();
    let r = Redactor::new(&cfg).unwrap();
    let mut v =
        json!({"user_ssn": "078-05-1120", "user": "bob", "http": {"request": {"body": "password=kept-on-purpose"}}});
    assert_eq!(r.redact(&mut v), 1);
    assert_eq!(
        v,
        json!({"user": "bob", "http": {"request": {"body": "password=kept-on-purpose"}}})
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Fragments that steer random strings into the patterns' paths.
    const FRAGMENTS: &[&str] = &[
        "password=",
        "--password ",
        "Authorization: Bearer ",
        "Basic ",
        "eyJhbGciOiJIUzI1NiJ9.",
        "net use \\\\h\\s /user:x ",
        "mysql -p",
        "4111 1111 1111 ",
        "-----BEGIN RSA PRIVATE KEY-----",
        "https://u:",
        "ConvertTo-SecureString ",
        "\"token\":\"",
        "[REDACTED]",
        "hmac-sha256:",
        "%%",
        "$",
    ];

    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                prop::sample::select(FRAGMENTS).prop_map(str::to_string),
                "\\PC{0,12}",
                "[ -~]{0,12}"
            ],
            0..8,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 512,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn never_panics_and_is_idempotent(s in text(), key in "[a-zA-Z_-]{1,12}") {
            let hash = Redactor::new(&RedactConfig {
                mode: RedactMode::Hash,
                hmac_key: Some("k".into()),
                ..RedactConfig::default()
            })
            .unwrap();
            let drop = Redactor::new(&RedactConfig { mode: RedactMode::Drop, ..RedactConfig::default() }).unwrap();
            for r in [Redactor::default_on(), hash, drop] {
                let mut v = json!({ key.clone(): s.clone(), "nested": [{"CommandLine": s.clone()}], "n": 4111111111111111u64 });
                r.redact(&mut v);
                let once = v.clone();
                prop_assert_eq!(r.redact(&mut v), 0, "second pass changed {}", once);
                prop_assert_eq!(&v, &once);
                if let Some(out) = r.redact_str(&s) {
                    prop_assert_eq!(r.redact_str(&out), None);
                }
            }
        }
    }
}
