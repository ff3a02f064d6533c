ByJ
|dvS}hyo\m